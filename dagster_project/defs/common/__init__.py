"""Resources shared by every stage, one per external system: the operational database, the
warehouse, and the dbt CLI (resources.py); the dbt project (dbt_project.py)."""
