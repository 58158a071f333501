import pytest

from inthegrid.domain.capture import capture_of
from inthegrid.domain.grid import DEFAULT_GRID, Allocation, Border, BorderOverride, Grid, Technology
from inthegrid.errors import NoPathError, ValidationError

REAL_BORDERS = {
    ("DE-LU", "FR"),
    ("DE-LU", "NL"),
    ("BE", "DE-LU"),
    ("AT", "DE-LU"),
    ("BE", "FR"),
    ("BE", "NL"),
}


def test_only_six_of_the_proof_of_concepts_ten_pairs_are_borders():
    poc = ["DE-LU", "FR", "NL", "BE", "AT"]
    borders = {b.key for b in DEFAULT_GRID.borders if b.a in poc and b.b in poc}
    assert borders == REAL_BORDERS


def test_adjacency_matches_domain_notes():
    assert set(DEFAULT_GRID.neighbours("DE-LU")) == {
        "AT",
        "BE",
        "CH",
        "CZ",
        "DK1",
        "DK2",
        "FR",
        "NL",
        "NO2",
        "PL",
        "SE4",
    }
    assert set(DEFAULT_GRID.neighbours("ES")) == {"FR", "PT"}


def test_norned_is_dc_with_proportional_losses():
    norned = DEFAULT_GRID.border("NL", "NO2")
    assert norned is not None
    assert norned.technology is Technology.DC
    assert norned.loss_factor == pytest.approx(0.032)
    assert norned.capacity_mw == 700


def test_swiss_borders_are_explicit():
    assert DEFAULT_GRID.border("DE-LU", "CH").allocation is Allocation.EXPLICIT
    assert DEFAULT_GRID.border("DE-LU", "FR").allocation is Allocation.IMPLICIT


def test_non_neighbours_need_a_path_with_narrowest_capacity():
    routes = DEFAULT_GRID.routes("FR", "AT")
    best = routes[0]
    assert best.path == ("FR", "DE-LU", "AT")
    assert best.capacity_mw == min(5400, 4900)
    assert capture_of(best.path).coupled


def test_losses_compound_along_a_path():
    grid = Grid(
        [
            Border("NL", "NO2", Technology.DC, 700, 0.1),
            Border("NO2", "DK1", Technology.DC, 1000, 0.1),
        ]
    )
    route = grid.routes("NL", "DK1")[0]
    assert route.retention == pytest.approx(0.81)
    assert route.net(10.0, 100.0) == pytest.approx(0.81 * 100 - 10)


def test_pareto_keeps_a_longer_cheaper_route():
    grid = Grid(
        [
            Border("FR", "BE", Technology.AC, 1000, 0.0, transmission_cost_eur_mwh=10),
            Border("FR", "DE-LU", Technology.AC, 1000),
            Border("DE-LU", "BE", Technology.AC, 1000),
        ]
    )
    routes = grid.routes("FR", "BE")
    assert [r.path for r in routes] == [("FR", "BE"), ("FR", "DE-LU", "BE")]


def test_no_path_within_hops_is_an_error():
    with pytest.raises(NoPathError):
        DEFAULT_GRID.routes("PT", "SE4", max_hops=2)
    with pytest.raises(NoPathError):
        DEFAULT_GRID.direct_route("FR", "NL")


def test_overrides_replace_only_given_fields_and_reject_non_borders():
    grid = Grid.with_overrides({("FR", "DE-LU"): BorderOverride(capacity_mw=100)})
    border = grid.border("DE-LU", "FR")
    assert border.capacity_mw == 100 and border.loss_factor == 0.0
    with pytest.raises(ValidationError, match="not an interconnector"):
        Grid.with_overrides({("FR", "NL"): BorderOverride(capacity_mw=1)})


def test_invalid_borders_are_rejected():
    with pytest.raises(ValidationError, match="loss factor"):
        Grid([Border("FR", "BE", Technology.AC, 100, 1.5)])
    with pytest.raises(ValidationError, match="capacity"):
        Grid([Border("FR", "BE", Technology.AC, 0)])


def test_the_real_borders_among_known_zones_are_in_the_grid():
    for a, b in (("NO2", "GB"), ("HU", "SK"), ("HU", "SI"), ("SI", "IT-NORD")):
        assert DEFAULT_GRID.border(a, b) is not None, f"{a}-{b}"
    assert DEFAULT_GRID.border("NO2", "GB").name == "North Sea Link"
    assert DEFAULT_GRID.border("NO2", "GB").technology.value == "DC"
