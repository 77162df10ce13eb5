"""The I/O layer: configuration, the database and its migrations, Temporal clients, the model
client, processes, the workspace, logs and the ops server. It may import `core.domain`, never the
reverse."""
