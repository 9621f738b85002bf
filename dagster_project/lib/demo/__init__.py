"""The demo's plain-Python parts (`make demo`, Dagster's `platform_job`): the week of traffic it
generates and the summary it prints. No Dagster imports (defs/platform/ wires these in)."""
