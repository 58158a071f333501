"""The analyst's workbench: what history says about zones and borders (pure functions on price frames).

- ``divergence``: how often two zones' prices are equal (a coupled border with spare capacity), and
  the direction and size of the spread when they are not, by year, month and hour of day;
- ``congestion``: the congestion value of each border and direction (on coupled day-ahead borders a
  spread is congestion income collected by the grid operators, never a trader's profit);
- ``negative``: hours with negative prices per zone and year;
- ``correlation``: the correlation matrix of zone prices, overall and by year;
- ``report``: all of it at once, as JSON-ready dicts and flat tables (CLI, gateway, backtest report).

Every function takes a frame like ``PriceTable.frame``: a sorted UTC DatetimeIndex of delivery starts
and one float column per zone (NaN = no price, never filled in). Years, months and hours are counted
in market time (Europe/Brussels, CET/CEST), the time the day-ahead auction and traders use.
"""
