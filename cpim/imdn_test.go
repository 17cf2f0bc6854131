package cpim

import "testing"

func TestNewMessageID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewMessageID()
		if len(id) != 16 || seen[id] {
			t.Fatalf("id %q (len %d, repeated %v)", id, len(id), seen[id])
		}
		seen[id] = true
		for i := 0; i < len(id); i++ {
			if !isTokenChar(id[i]) {
				t.Fatalf("id %q has %q, not a TOKENCHAR", id, id[i])
			}
		}
		m := New()
		if err := m.Set(NSIMDN, IMDNMessageID, id); err != nil {
			t.Fatal(err)
		}
	}
}
