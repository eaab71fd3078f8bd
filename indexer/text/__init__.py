"""Text analysis: articles in, normalized words, stems, sentences and passages out (no storage)."""
