// lstm_variants.cl: placeholder, filled in by its work item.
