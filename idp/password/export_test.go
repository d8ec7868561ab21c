package password

// Footprint exposes footprint to the external tests.
func (b *Blocklist) Footprint() int { return b.footprint() }

// Entries returns the loaded entries, in order.
func (b *Blocklist) Entries() []string {
	b.load()
	out := make([]string, 0, len(b.offs)-1)
	for i := 0; i+1 < len(b.offs); i++ {
		out = append(out, b.data[b.offs[i]:b.offs[i+1]-1])
	}
	return out
}
