"""hubspot connector: the CRM target (contacts, order deals, notes) over HubSpot's CRM v3/v4 REST API."""
