"""Reading devices on the edge: protocol adapters behind one interface, and the snapshot."""
