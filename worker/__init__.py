"""The mosaic-helpdesk worker: mailbox -> parser -> store -> replies."""
