"""The keyword index: Whoosh segments with Arabic analyzers, and their postings compiled to numpy."""
