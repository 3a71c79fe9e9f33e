"""odoo connector: the ERP side of order sync over Odoo's external JSON-RPC API (client.py, consts.py)."""
