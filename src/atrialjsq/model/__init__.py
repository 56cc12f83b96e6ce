"""Network definitions (AtrialJSQnet and single-task U-Nets) and named configs."""
