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
	// Trie, built straight into the dense table: row s holds the child of
	// state s for each class, 0 for none (the root is never a child).
	nc := k.nclass
	total := 1
	for _, w := range k.words {
		total += len(w)
	}
	delta := make([]uint16, nc, min(total, maxStates+1)*nc)
	var outs [][]int32
	outs = append(outs, nil)
	for id, w := range k.words {
		s := 0
		for i := 0; i < len(w); i++ {
			c := int(k.class[w[i]])
			n := int(delta[s*nc+c])
			if n == 0 {
				n = len(outs)
				if n > maxStates {
					return fmt.Errorf("keyword automaton needs more than %d states", maxStates)
				}
				delta = append(delta, make([]uint16, nc)...)
				outs = append(outs, nil)
				delta[s*nc+c] = uint16(n)
			}
			s = n
		}
		outs[s] = append(outs[s], int32(id))
		if len(w) > k.maxWord {
			k.maxWord = len(w)
		}
	}
	// Breadth-first, in place: when state s is visited its row still holds
	// only its children; every other entry is then copied from the row of
	// its fail state, which is shallower and so already final.
	states := len(outs)
	fail := make([]uint16, states)
	out := make([][]int32, states)
	out[0] = outs[0]
	queue := make([]int, 0, states)
	for c := 1; c < nc; c++ {
		if n := delta[c]; n != 0 {
			queue = append(queue, int(n))
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := int(fail[s])
		out[s] = append(append([]int32(nil), outs[s]...), out[f]...)
		row, frow := delta[s*nc:(s+1)*nc], delta[f*nc:(f+1)*nc]
		for c := 1; c < nc; c++ {
			if n := row[c]; n != 0 {
				fail[n] = frow[c]
				queue = append(queue, int(n))
			} else {
				row[c] = frow[c]
			}
		}
	}
	k.delta = delta
	nodes := out
	k.outAt = make([]uint32, len(nodes)+1)
	for s, o := range nodes {
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
