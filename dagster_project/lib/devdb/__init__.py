"""A throwaway local PostgreSQL cluster for machines with no server (`platformctl dev postgres`)."""
