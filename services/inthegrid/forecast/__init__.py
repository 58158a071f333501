"""Day-ahead spread forecasts a trader could have had before the auction.

For delivery day D (market time) the day-ahead gate closes at 12:00 CET on D-1; by then the prices of
D-1 and earlier are public (published around 12:45 on D-2), those of D are not. ``features`` builds
each (D, hour) row only from days up to D-1 and the calendar, ``model`` fits gradient-boosted
quantile regressors (scikit-learn, optional extra ``forecast``), ``evaluate`` compares them with the
naive forecasts, and ``signal`` gives strategies the expected spread of a border and hour.
"""
