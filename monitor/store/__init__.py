"""The store, by concept: ``schema`` (tables), ``engine`` (connections, transactions,
snapshots), ``writes`` (sightings in batches, imports) and ``runs`` (the record of each
run, and checkpoints). Import from the module that owns a name.
"""
