"""The input layer: where records come from (files, folders, standard input, gzip, JSON documents and JSON
Lines) and where in their text each reported value sits. It depends on the core only."""
