"""Channel adapters: each only translates between its platform and the core's Inbound/Outbound."""
