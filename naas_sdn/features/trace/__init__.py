"""The ``trace`` service plugin: why can one port reach another, or not (``POST
/v2.0/traces``), answered from the compiled pipeline (:mod:`naas_sdn.flows.trace`)."""
