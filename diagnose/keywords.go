package diagnose

import "fmt"

// keywordSet finds, in one pass over a normalised text, every keyword of the
// rules that occurs in it (an Aho-Corasick automaton compiled to a dense
// transition table over the bytes that occur in keywords). This is the cheap
// prefilter that lets Diagnose skip the regular expressions of every rule
// whose words are absent: the cost is one table lookup per input byte,
// whatever the number of rules.
type keywordSet struct {
	class   [256]uint16 // byte -> alphabet class; 0 = a byte in no keyword
	nclass  int
	delta   []uint16 // state*nclass + class -> next state (the table stays small enough for the cache)
	outAt   []uint32 // keyword ids ending in state s are outIDs[outAt[s]:outAt[s+1]]
	outIDs  []int32
	words   []string
	byWord  map[string]int
	maxWord int
}

// maxKeywords bounds the keyword ids so that a match set fits a fixed array
// on the stack (no allocation per Diagnose call).
const maxKeywords = 8192

type keywordHits [maxKeywords / 64]uint64

func (h *keywordHits) set(id int32)      { h[id>>6] |= 1 << (uint(id) & 63) }
func (h *keywordHits) has(id int32) bool { return h[id>>6]&(1<<(uint(id)&63)) != 0 }

func newKeywordSet() *keywordSet {
	return &keywordSet{byWord: map[string]int{}}
}

// add registers a keyword (already normalised) and returns its id; the same
// word always gets the same id.
func (k *keywordSet) add(w string) (int32, error) {
	if w == "" {
		return 0, fmt.Errorf("empty keyword")
	}
	if id, ok := k.byWord[w]; ok {
		return int32(id), nil
	}
	if len(k.words) >= maxKeywords {
		return 0, fmt.Errorf("more than %d keywords", maxKeywords)
	}
	k.byWord[w] = len(k.words)
	k.words = append(k.words, w)
	return int32(len(k.words) - 1), nil
}

// maxStates keeps state numbers in 16 bits.
const maxStates = 1<<16 - 1

// compile builds the automaton; add must not be called afterwards.
func (k *keywordSet) compile() error {
	// Alphabet: one class per distinct byte used by some keyword.
	k.nclass = 1
	for _, w := range k.words {
		for i := 0; i < len(w); i++ {
			if k.class[w[i]] == 0 {
				k.class[w[i]] = uint16(k.nclass)
				k.nclass++
			}
		}
	}
	// Trie.
	type node struct {
		next map[uint16]int32
		fail int32
		out  []int32
	}
	nodes := []node{{next: map[uint16]int32{}}}
	for id, w := range k.words {
		s := int32(0)
		for i := 0; i < len(w); i++ {
			c := k.class[w[i]]
			n, ok := nodes[s].next[c]
			if !ok {
				n = int32(len(nodes))
				nodes = append(nodes, node{next: map[uint16]int32{}})
				nodes[s].next[c] = n
			}
			s = n
		}
		nodes[s].out = append(nodes[s].out, int32(id))
		if len(w) > k.maxWord {
			k.maxWord = len(w)
		}
	}
	if len(nodes) > maxStates {
		return fmt.Errorf("keyword automaton needs %d states, more than %d", len(nodes), maxStates)
	}
	// Breadth-first: fail links and the dense table.
	k.delta = make([]uint16, len(nodes)*k.nclass)
	out := make([][]int32, len(nodes))
	queue := make([]int32, 0, len(nodes))
	for c := 1; c < k.nclass; c++ {
		if n, ok := nodes[0].next[uint16(c)]; ok {
			nodes[n].fail = 0
			k.delta[c] = uint16(n)
			queue = append(queue, n)
		}
	}
	out[0] = nodes[0].out
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := nodes[s].fail
		o := append([]int32(nil), nodes[s].out...)
		out[s] = append(o, out[f]...)
		for c := 1; c < k.nclass; c++ {
			if n, ok := nodes[s].next[uint16(c)]; ok {
				nodes[n].fail = int32(k.delta[int(f)*k.nclass+c])
				k.delta[int(s)*k.nclass+c] = uint16(n)
				queue = append(queue, n)
			} else {
				k.delta[int(s)*k.nclass+c] = k.delta[int(f)*k.nclass+c]
			}
		}
	}
	k.outAt = make([]uint32, len(nodes)+1)
	for s, o := range out {
		k.outAt[s] = uint32(len(k.outIDs))
		k.outIDs = append(k.outIDs, o...)
	}
	k.outAt[len(nodes)] = uint32(len(k.outIDs))
	return nil
}

// scan marks in hits every keyword occurring in text and calls found for
// each first occurrence.
func (k *keywordSet) scan(text string, hits *keywordHits, found func(id int32)) {
	s := 0
	nc := k.nclass
	for i := 0; i < len(text); i++ {
		c := int(k.class[text[i]])
		if c == 0 {
			s = 0
			continue
		}
		s = int(k.delta[s*nc+c])
		if a, b := k.outAt[s], k.outAt[s+1]; a != b {
			for _, id := range k.outIDs[a:b] {
				if !hits.has(id) {
					hits.set(id)
					found(id)
				}
			}
		}
	}
}
