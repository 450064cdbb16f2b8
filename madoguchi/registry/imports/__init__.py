"""Replica imports: format plugins (`contrib/<name>/`) feeding one loader (`loader.load`)."""
