"""In-transaction business rules: apply canonical records, the stock ledger, orders, payments and shipments
(no Flask, no RQ, no I/O beyond the caller's connection)."""
