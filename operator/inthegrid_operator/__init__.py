"""The InTheGrid operator: MarketFeed and ArbitrageRule custom resources reconciled by kopf.

Layout (as kopf's and crate-operator's): ``main`` holds only the kopf decorators; ``specs`` validates
what users wrote; ``render`` builds child objects as plain dicts; ``status`` builds conditions;
``kube`` is the one module that talks to the API server; ``crds`` generates the CRD schemas.
"""

GROUP = "inthegrid.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
FIELD_MANAGER = "inthegrid-operator"
