// lstm_persistent.cl: placeholder, filled in by its work item.
