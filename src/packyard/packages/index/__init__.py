"""What installers read: the simple API, the JSON API, files, and who may read them.

- `routes`: which stored page answers which URL (one table for all of the below).
- `pages`: pages rendered once per change, kept in the database, written to disk for a proxy.
- `simple`, `jsonapi`: the renderers; `queries`: the rows they are rendered from.
- `files`: downloads, with ETag, HEAD and ranges.
- `access`: who may read a private index, and which projects a token reaches.
- `fastpath`, `fastdb`: the answers given before Django for stored pages and plain downloads.
"""
