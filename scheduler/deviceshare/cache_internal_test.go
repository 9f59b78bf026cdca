package deviceshare

// reservations returns how many reservations are kept.
func (c *nodeCache) reservations() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.assumed)
}

// memoizedNodes returns how many nodes have a memo entry.
func (c *nodeCache) memoizedNodes() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.nodes)
}
