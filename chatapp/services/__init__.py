"""The business half of the seed's controllers: plain functions, ids and values in, data out."""
