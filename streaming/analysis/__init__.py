"""Analysis of stored requests: estimators, comparisons, tables, wording, charts, the HTML report, failure sentences."""
