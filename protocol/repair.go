package protocol

import (
	"cmp"
	"hash/fnv"
	"slices"
)

// The repair variant is predlock-retry that also survives crashes: nodes that vanish without
// a word, whose messages are lost and whose timers die. Joins and leaves keep predlock-retry's
// handshakes, so a crash-free run behaves like predlock-retry; on top of them runs Zave's
// corrected Chord maintenance ("Reasoning about identifier spaces: how to make Chord
// correct", IEEE TSE 2017):
//   - every node keeps a successor list of length r (Config.Replicas, at least 1); the first
//     entry is its right pointer;
//   - every Stabilize period a node in the ring asks its first successor for its predecessor
//     and successor list (repair_ask, which is also Zave's notify). A successor that does not
//     answer within Timeout, twice, or answers that it is not in the ring, is presumed dead:
//     it is dropped and the next one asked at once. From a live successor the node takes its
//     list (reconcile) and, if the successor's predecessor lies between them, asks that node
//     too and adopts it as successor only if it answers that it is in the ring. Lists also
//     travel with the handshakes (a welcome carries the owner's, a leave_ask the leaver's), and
//     a list that changes, or that an insertion made stale, is pushed to the predecessor;
//   - on a notify a node adopts the notifier as predecessor if it has none (its predecessor
//     was found dead) or the notifier lies between (rectify). It pings its predecessor every
//     period and clears it when it is dead, so that rectify can adopt the next live one;
//   - keys: a node whose predecessor changed promotes its copies of the range it now owns to
//     keys. Every period an owner sends each of its successors a digest of its keys
//     (repair_digest); a successor whose copies differ sends them back (repair_sync), the owner
//     keeps any key it lacks and answers with its keys of the range (repair_push), which
//     replace the successor's copies. A successor drops copies that no digest has covered for
//     coverAge periods (they belong to a range it is no longer among the r successors of).
//
// The handshakes are made finite under crashes: an owner whose successor does not answer
// set_left three times presumes it dead like an unanswered probe (it gives the insertion up,
// tells the newcomer welcome_nack, drops the successor and asks the next); an owner that
// offered a successor found dead withdraws its welcome; an undo through a dead successor is
// given up; a newcomer that asks its dead owner to unlink it stops after Retries attempts. A
// successor takes set_left or leave_keys from a live node closer than its predecessor (or
// while it has none) as from its predecessor; it answers success_join for a newcomer only if
// it linked it, and otherwise names its predecessor to the owner, which gives the insertion up
// when that node lies between them. Stabilization then repairs
// whatever the handshake left. It never touches the right pointer while the node holds its
// owner lock, which keeps the handshakes' invariants. docs/protocol.md ("repair") has the
// messages, the tested promise and its bound.

func init() {
	register(Variant{
		Name:        "repair",
		Description: "predlock-retry joins and leaves plus Zave's stabilization with successor lists, failure detection and key re-replication; survives crashes",
		Leaves:      true,
		Repairs:     true,
	}, newRepairNode)
}

// DefaultStabilize is the stabilization period when Config.Stabilize is zero.
const DefaultStabilize = int64(1e9) // 1 s

// Timer kinds of the repair variant. They reach the machine (they are not the DHT's), but
// IsJoinTimer leaves them out: a driver that waits for joins to go quiet does not wait for
// stabilization, which never ends.
const (
	timerStab  uint8 = 4
	timerProbe uint8 = 5
)

// Answer flags of repair_state.
const (
	repairMember = 1 << iota // alive and part of a join or the ring: not dead for the asker
	repairInRing             // connected and not leaving: may be adopted as a successor
)

const (
	// probeTries is how many times a node asks a peer (Timeout each) before it presumes it dead.
	probeTries = 2
	// coverAge is how many stabilization periods a successor keeps copies that no digest has
	// covered. An owner that crashed leaves its range uncovered until its successor has
	// adopted a new predecessor and sends digests itself, which takes up to three periods.
	coverAge = 5
)

// probe is an outstanding question to a peer.
type probe struct {
	to    ID
	op    uint64
	tries uint8
	cand  bool // the successor's predecessor, asked before it is adopted as successor
	// fb: the next entry of the successor list, asked before it replaces a right neighbour
	// presumed dead. The pointer moves only to a node that answers that it is in the ring: an
	// entry may have left gracefully since the list was made, and a pointer at a node that
	// left is never right (one at a crashed node is, until repaired).
	fb bool
}

// span is a range (lo, hi] some owner's digest covered age periods ago.
type span struct {
	lo, hi ID
	age    uint8
}

type repairNode struct {
	retryNode
	period int64
	r      int
	succs  []ID
	sepoch uint64 // tag of the live stabilization timer
	stabOn bool   // a stabilization timer is armed
	pnum   uint64 // numbers of probes
	sp, pp probe  // the successor probe and the predecessor ping (to == None: none)
	spans  []span
	rounds uint8 // stabilization rounds since the node joined, up to coverAge
	// lastLeft is the last leaver whose keys this node took: a notification it sent before
	// leaving and that arrives late must not make it the predecessor again.
	lastLeft ID
	// leftAge counts the rounds since lastLeft was set: after two, a notification from it
	// is no late one but a leaver whose leave failed and that is a member again (rejoin).
	leftAge uint8
	// took holds, per owner, the number of the last insertion whose set_left moved this
	// node's left pointer: only a retransmission of such a set_left is answered for the
	// newcomer once the pointer has moved on.
	took       []undoneOp
	linkTries  int // owner timer firings in oLinking/oUndoing for the current insertion
	listOf     ID  // the successor whose list the node took last (reconcile)
	handQ      ID  // a leaver's last successor's predecessor it asked (handTo)
	abortTries int // join timer firings while aborting
}

func newRepairNode(c Config) repairNode {
	n := repairNode{retryNode: newRetryNode(c), period: c.Stabilize, r: max(c.Replicas, 1), lastLeft: None, listOf: None, handQ: None,
		sp: probe{to: None}, pp: probe{to: None}}
	if n.period <= 0 {
		n.period = DefaultStabilize
	}
	n.dht.dropDeadFingers = true
	if c.Member && c.Right != None {
		n.succs = []ID{c.Right}
		if len(c.Succs) > 0 && c.Succs[0] == c.Right {
			n.succs = slices.Clone(c.Succs[:min(len(c.Succs), n.r)])
		}
	}
	return n
}

// inRing reports whether the node takes part in stabilization.
func (n *repairNode) inRing() bool { return n.jphase == jConnected && n.lphase <= lAsking }

func (n *repairNode) boot(out *Output) {
	if n.inRing() {
		n.armStab(out)
	}
}

func (n *repairNode) armStab(out *Output) {
	n.sepoch++
	n.stabOn = true
	// Background: stabilization never ends by itself; a driver winding a run down may drop it.
	out.Actions = append(out.Actions, Action{Kind: SetTimer, Timer: Timer{Kind: timerStab, Tag: n.sepoch, After: n.period, Background: true}})
}

func (n *repairNode) restart(out *Output) {
	n.retryNode.restart(out)
	n.sp, n.pp = probe{to: None}, probe{to: None}
	n.stabOn = false
	if n.inRing() {
		n.armStab(out)
	}
}

// after runs after every input: a node that has just joined starts stabilizing, a node
// whose predecessor changed takes the keys of the range it now owns, and a node whose
// handshake moved its right pointer (locked says whether it held its owner lock before the
// input) brings its list and its predecessor's up to date.
func (n *repairNode) after(left, right ID, was, locked bool, out *Output) {
	if n.jphase != jAborting {
		n.abortTries = 0
	}
	if n.ophase != oLinking && n.ophase != oUndoing {
		n.linkTries = 0
	}
	if n.inRing() && !was && !n.stabOn {
		// Just joined (or back): a first round at once, so that the successor list is
		// filled before a crash can empty it.
		if len(n.succs) == 0 && n.right != None {
			n.succs = []ID{n.right}
		}
		n.tick(out)
	}
	if n.left != left || (n.inRing() && !was) {
		n.promote()
	}
	if was && locked && n.inRing() && n.ophase == oFree && n.right == right && !n.sp.fb && n.right != None && n.right != n.id && len(n.succs) > 0 && n.succs[0] != n.right {
		// The node has just released its owner lock, and the right pointer moved while it
		// held it (an insertion), so the list still starts with the old successor, and the
		// predecessor's list, made from it, misses the newcomer. Push the list as the next
		// round will have it now: should the old successor crash before the predecessor's
		// next round, the newcomer is the entry its fallback finds.
		old := slices.Clone(n.succs)
		n.syncSuccs()
		n.pushList(old, out)
	}
	if n.right != right && n.listOf != n.right && was && n.inRing() && n.ophase == oFree && n.sp.to == None &&
		n.right != None && n.right != n.id {
		// A handshake moved the right pointer (a neighbour left through us, or a newcomer
		// came in): the list beyond it is short or stale until the new successor's list
		// comes, so ask for it now rather than at the next round, before a crash can find
		// the list empty.
		n.syncSuccs()
		n.askSucc(n.right, false, out)
	}
}

func (n *repairNode) Start(out *Output) error {
	left, right, was, locked := n.left, n.right, n.inRing(), n.ophase != oFree
	err := n.retryNode.Start(out)
	n.after(left, right, was, locked, out)
	return err
}

func (n *repairNode) Serve(out *Output) (bool, error) {
	if n.sp.to == n.right && n.sp.tries > 0 {
		// The successor has missed an answer: do not offer it to a newcomer before it is
		// found alive or dead.
		return false, nil
	}
	left, right, was, locked := n.left, n.right, n.inRing(), n.ophase != oFree
	from := len(out.Actions)
	ok, err := n.retryNode.Serve(out)
	n.welcomeList(out, from)
	n.after(left, right, was, locked, out)
	return ok, err
}

func (n *repairNode) Leave(out *Output) error {
	if n.left == None {
		return ErrNoLeave // no known predecessor to take it out: wait for stabilization
	}
	left, right, was, locked := n.left, n.right, n.inRing(), n.ophase != oFree
	from := len(out.Actions)
	err := n.retryNode.Leave(out)
	n.welcomeList(out, from)
	n.after(left, right, was, locked, out)
	return err
}

func (n *repairNode) Step(m Message, out *Output) error {
	left, right, was, locked := n.left, n.right, n.inRing(), n.ophase != oFree
	defer n.welcomeList(out, len(out.Actions))
	if m.Type == Welcome && m.Data != nil {
		defer n.takeWelcomeList(m)
	}
	switch m.Type {
	case RepairAsk:
		n.ask(m, out)
	case RepairState:
		n.state(m, out)
	case RepairDigest:
		n.digest(m, out)
	case RepairSync:
		n.sync(m, out)
	case RepairPush:
		n.push(m)
	case LeaveAsk:
		if err := n.retryNode.step(m, out); err != nil {
			return err
		}
		n.takeLeaverList(m)
	case SetLeft, LeaveKeys:
		// A live node that moves our left pointer (an owner inserting, a leaver handing its
		// keys over) while our predecessor is dead, or from closer than the predecessor we
		// know, is our predecessor: it is taken as such first, so that the handshake goes on
		// as in a ring without crashes and the keys are handed over.
		if n.inRing() && m.From != n.id && m.From != n.left && !n.wasUndone(m.From, m.Op) &&
			(n.left == None || n.ring.Between(n.left, m.From, n.id)) {
			n.left = m.From
		}
		if m.Type == SetLeft && n.inRing() && n.left != m.From && n.left != m.Neighbour &&
			(!n.ring.Between(m.Neighbour, n.left, n.id) || !n.linked(m.From, m.Op)) {
			// predlock-retry answers success_join for the newcomer here: its case of a left
			// pointer that went to the newcomer and has moved on since, the newcomer's own
			// success_join being lost. With crashes our predecessor may instead lie before
			// the owner (dead, not yet found out) or be a node the owner does not know, and the
			// answer would end an insertion that never reached us. So only a set_left this
			// node took before (linked) gets that answer; otherwise it stays silent and checks
			// its predecessor now. It tells the owner who its predecessor is (an unsolicited
			// repair_state, Op 0): a node between the owner and us, so the owner gives the
			// insertion up, the gap not being its own.
			if n.pp.to == None && n.left != None {
				n.pnum++
				n.pp = probe{to: n.left, op: n.pnum}
				n.sendProbe(n.pp, false, out)
			}
			out.send(n.stateMsg(m.From, n.left, 0))
			n.after(left, right, was, locked, out)
			return nil
		}
		if m.Type == LeaveKeys && !n.inRing() {
			// Left or leaving itself: it cannot take the keys, and predlock-retry's answer
			// (leave_bye, the removal long done) would let the leaver go with them.
			n.after(left, right, was, locked, out)
			return nil
		}
		if m.Type == LeaveKeys && n.left != m.From && n.left != m.Neighbour {
			// predlock-retry lets such a leaver go (leave_bye: its removal is long done here).
			// With crashes it may instead be a leaver whose right neighbour died, handing its
			// keys to us past it while our predecessor is that dead node, not yet found out:
			// letting it go would lose its keys. Stay silent and check the predecessor; the
			// leaver asks again, and takes its keys back if it gives up.
			if n.pp.to == None && n.left != None {
				n.pnum++
				n.pp = probe{to: n.left, op: n.pnum}
				n.sendProbe(n.pp, false, out)
			}
			n.after(left, right, was, locked, out)
			return nil
		}
		if m.Type == LeaveKeys && (n.left == m.From || n.left == m.Neighbour) {
			n.lastLeft, n.leftAge = m.From, 0
		}
		if m.Type == SetLeft && m.Neighbour != None && m.Neighbour == n.lastLeft {
			// A late set_left of the insertion of a node that has left through us since (it
			// left as soon as it joined, before the set_left reached us): taken, it would point
			// our left pointer at a departed node (stress seed 23416). The newcomer's
			// success_join has unlocked its owner already.
			n.after(left, right, was, locked, out)
			return nil
		}
		moves := m.Type == SetLeft && n.left == m.From
		if err := n.retryNode.step(m, out); err != nil {
			return err
		}
		if moves && n.left == m.Neighbour {
			n.link(m.From, m.Op)
		}
	default:
		if err := n.retryNode.step(m, out); err != nil {
			return err
		}
	}
	n.after(left, right, was, locked, out)
	return nil
}

func (n *repairNode) Fire(t Timer, out *Output) error {
	left, right, was, locked := n.left, n.right, n.inRing(), n.ophase != oFree
	defer n.welcomeList(out, len(out.Actions))
	switch {
	case t.Kind == timerStab:
		if t.Tag == n.sepoch {
			n.stabOn = false
			n.tick(out)
		}
	case t.Kind == timerProbe:
		n.probeTimeout(t.Tag, out)
	case t.Kind == timerLeave && t.Tag == n.lepoch && n.lphase == lHanded:
		if err := n.handTimer(t, out); err != nil {
			return err
		}
	case t.Kind == timerJoin && t.Tag == n.jepoch && n.jphase == jAborting:
		// The owner may be dead: stop asking it after Retries attempts. Whatever still points
		// at this node finds it out of the ring through stabilization.
		n.abortTries++
		if n.abortTries > n.retries {
			n.jphase, n.left, n.right, n.owner = jFailed, None, None, None
			n.jepoch++
		} else if err := n.retryNode.Fire(t, out); err != nil {
			return err
		}
	case t.Kind == timerOwner && t.Tag == n.oepoch && (n.ophase == oLinking || n.ophase == oUndoing):
		// Committed, the owner waits for the successor (set_left, unlink); one that misses
		// as many answers as the failure detector allows is presumed dead.
		n.linkTries++
		if n.linkTries > probeTries {
			if n.inRing() {
				n.presumeDead(n.succ, out)
			} else {
				n.giveUpLink(out)
			}
		} else if err := n.retryNode.Fire(t, out); err != nil {
			return err
		}
	default:
		if err := n.retryNode.Fire(t, out); err != nil {
			return err
		}
	}
	n.after(left, right, was, locked, out)
	return nil
}

// handTimer is a leaver's timer after it handed its keys to its right neighbour. A silent
// right neighbour may be dead, or alive and waiting to find its dead predecessor out before
// it takes the keys: the leaver probes it, and only one that misses the probes as the failure
// detector allows is passed over for the next successor (handNext). A leave that fails after
// all (Retries silent periods) takes the keys back and makes the node a member again: a
// forwarder that no one takes out would hold its predecessor's stabilization at a node
// outside the ring.
func (n *repairNode) handTimer(t Timer, out *Output) error {
	if n.sp.to == None && n.right != None && n.right != n.id {
		n.pnum++
		n.sp = probe{to: n.right, op: n.pnum}
		n.sendProbe(n.sp, false, out)
	}
	if err := n.retryNode.Fire(t, out); err != nil {
		return err
	}
	if n.leaveFailed && n.lphase == lHanded {
		n.rejoin()
	}
	return nil
}

// handNext drops a leaver's right neighbour, found dead, and asks the next successor whether
// it is in the ring (fallBack); the keys go to it once it answers that it is (handTo). An
// entry may have left since the list was made, and a node that left would let the leaver go
// with its keys.
func (n *repairNode) handNext(dead ID, out *Output) {
	if n.right != dead {
		return
	}
	n.succs = slices.DeleteFunc(n.succs, func(s ID) bool { return s == dead })
	n.fallBack(out)
}

// handTo makes s, a successor that answered that it is in the ring, the node a leaver hands
// its keys to.
func (n *repairNode) handTo(s ID, out *Output) {
	n.right = s
	if d := n.dht.s; d != nil && d.outbox != nil {
		d.outboxTo = s
	}
	out.send(Message{Type: LeaveKeys, From: n.id, To: s, Joiner: n.id, Neighbour: n.left, Data: n.resend(s)})
}

// rejoin makes a leaver whose leave failed a member again, with the keys it had handed over.
// Whoever took them meanwhile holds copies that the digests sort out.
func (n *repairNode) rejoin() {
	n.lphase = lNone
	d := n.dht.s
	if d == nil || d.outbox == nil {
		return
	}
	for _, it := range d.outbox.Items {
		d.store(it)
	}
	for _, it := range d.outbox.Replicas {
		if _, own := d.find(it.ID, it.Key); !own {
			d.replicas = putItem(d.replicas, it)
		}
	}
	d.outbox, d.outboxTo = nil, None
}

// welcomeList gives every welcome among the actions from index from on the owner's successor
// list, which the newcomer takes as its own (takeWelcomeList): a newcomer that knew its first
// successor only would be left with none if that one crashed before its first round, and its
// owner's list, cut to r entries with the newcomer first, would not know the next one either.
// A leave_ask carries the leaver's list likewise (takeLeaverList).
func (n *repairNode) welcomeList(out *Output, from int) {
	for i := from; i < len(out.Actions); i++ {
		if a := &out.Actions[i]; a.Kind == Send && (a.Msg.Type == Welcome || a.Msg.Type == LeaveAsk) && a.Msg.Data == nil && len(n.succs) > 0 {
			a.Msg.Data = &Data{Succs: slices.Clone(n.succs)}
		}
	}
}

// takeWelcomeList makes the owner's list, from the successor it offered on, the newcomer's.
func (n *repairNode) takeWelcomeList(m Message) {
	if n.jphase != jWelcomed || n.owner != m.From || n.right != m.Neighbour || n.right == None {
		return
	}
	list := []ID{n.right}
	for _, x := range m.Data.Succs {
		if len(list) >= n.r {
			break
		}
		if last := list[len(list)-1]; x != n.id && x != None && x != last && n.ring.Between(last, x, n.id) {
			list = append(list, x)
		}
	}
	n.succs = list
}

// takeLeaverList puts a leaver's successor list after it in this node's list once this node
// has locked its gap to take it out: when the leave is done the right pointer moves to the
// leaver's successor, and the list, synced to it, would otherwise hold only the entries the
// node had beyond it, none if the leaver was the last entry. That successor may crash as the
// leave ends (a leaver's list, refreshed by its own rounds, is as fresh as any).
func (n *repairNode) takeLeaverList(m Message) {
	if m.Data == nil || !n.inRing() || n.ophase != oTakingOut || n.right != m.From || n.pending != m.From {
		return
	}
	n.succs = n.extendList([]ID{m.From}, n.r+1, m.Data.Succs, n.succs)
}

// giveUpLink ends an insertion whose successor does not answer (it is presumed dead): the
// owner points at the successor again and tells the newcomer, which asks again later.
func (n *repairNode) giveUpLink(out *Output) {
	k, op := n.pending, n.onum
	if n.ophase == oLinking {
		n.right = n.succ
		n.unlock()
		n.sendOp(out, WelcomeNack, k, k, None, op)
	} else {
		n.unlock()
		n.sendOp(out, Aborted, k, k, None, op)
	}
	n.afterUnlock(out)
}

// tick is one stabilization round.
func (n *repairNode) tick(out *Output) {
	if !n.inRing() {
		return // left, or never joined: no more rounds
	}
	n.armStab(out)
	if n.lastLeft != None {
		if n.leftAge++; n.leftAge > 2 {
			n.lastLeft = None
		}
	}
	n.syncSuccs()
	n.ageSpans()
	if n.right != None && n.right != n.id && n.ophase == oFree && n.sp.to == None {
		n.askSucc(n.right, false, out)
	}
	if n.right == n.id && n.left != None && n.left != n.id && n.ophase == oFree && n.sp.to == None {
		// Closed on itself (lastResort), then found by a predecessor: the ring has another
		// node again, and the walk from it finds our successor.
		n.askSucc(n.left, true, out)
	}
	if n.left != None && n.left != n.id && n.pp.to == None {
		n.pnum++
		n.pp = probe{to: n.left, op: n.pnum}
		n.sendProbe(n.pp, false, out)
	}
	n.sendDigests(out)
}

// syncSuccs puts the right pointer, which the handshakes move, at the head of the list.
func (n *repairNode) syncSuccs() {
	if n.right == None || n.ophase != oFree {
		return // a locked owner's right pointer may yet go back
	}
	if len(n.succs) > 0 && n.succs[0] == n.right {
		return
	}
	list := []ID{n.right}
	for _, s := range n.succs {
		if len(list) >= n.r {
			break
		}
		if s != n.right && s != n.id && n.ring.Between(n.right, s, n.id) {
			list = append(list, s)
		}
	}
	n.succs = list
}

func (n *repairNode) askSucc(to ID, cand bool, out *Output) {
	n.pnum++
	n.sp = probe{to: to, op: n.pnum, cand: cand}
	n.sendProbe(n.sp, true, out)
}

func (n *repairNode) sendProbe(p probe, notify bool, out *Output) {
	var st uint8
	if notify {
		st = 1
	}
	out.send(Message{Type: RepairAsk, From: n.id, To: p.to, Joiner: None, Neighbour: None, Op: p.op, Status: st})
	out.Actions = append(out.Actions, Action{Kind: SetTimer, Timer: Timer{Kind: timerProbe, Tag: p.op, After: n.timeout}})
}

func (n *repairNode) probeTimeout(op uint64, out *Output) {
	for _, p := range []*probe{&n.sp, &n.pp} {
		if p.to == None || p.op != op {
			continue
		}
		p.tries++
		if int(p.tries) < probeTries {
			n.sendProbe(*p, p == &n.sp, out)
			return
		}
		if p == &n.sp {
			n.succDead(out)
		} else {
			n.predDead()
		}
		return
	}
}

// succDead drops the successor asked, presumed dead, unless it was only a candidate.
func (n *repairNode) succDead(out *Output) {
	dead, cand, fb := n.sp.to, n.sp.cand, n.sp.fb
	n.sp = probe{to: None}
	if fb {
		n.succs = slices.DeleteFunc(n.succs, func(s ID) bool { return s == dead })
		n.dht.forgetFinger(dead)
		if n.inRing() || n.lphase == lHanded {
			n.fallBack(out)
		}
		return
	}
	if n.lphase == lHanded {
		n.handNext(dead, out)
		return
	}
	if !cand && n.inRing() {
		n.presumeDead(dead, out)
	}
}

// presumeDead drops a successor presumed dead and asks the next one. An insertion that
// depends on it ends first: a welcome that offered it as the newcomer's successor is
// withdrawn (welcome_nack), and a link or an undo through it is given up.
func (n *repairNode) presumeDead(dead ID, out *Output) {
	switch {
	case n.ophase == oWelcoming && n.right == dead:
		k, op := n.pending, n.onum
		n.unlock()
		n.sendOp(out, WelcomeNack, k, k, None, op)
		n.afterUnlock(out)
	case (n.ophase == oLinking || n.ophase == oUndoing) && n.succ == dead:
		k := n.pending
		n.giveUpLink(out)
		n.succs = slices.DeleteFunc(n.succs, func(s ID) bool { return s == k })
	}
	before := slices.Clone(n.succs)
	n.succs = slices.DeleteFunc(n.succs, func(s ID) bool { return s == dead })
	n.dht.forgetFinger(dead)
	n.pushList(before, out)
	if n.ophase != oFree {
		return // the lock's own handshake moves the right pointer
	}
	if n.right == dead {
		// Every successor known dead: nothing to fall back on until the predecessor's list
		// (fillFromPred) gives more.
		n.fallBack(out)
		return
	}
	if n.right != n.id && n.sp.to == None {
		n.askSucc(n.right, false, out)
	}
}

// fallBack asks the first entry of the successor list whether it is in the ring, to replace
// a right neighbour presumed dead.
func (n *repairNode) fallBack(out *Output) {
	if n.sp.to != None || n.ophase != oFree {
		return
	}
	if len(n.succs) == 0 {
		n.lastResort()
		if len(n.succs) == 0 {
			return
		}
	}
	n.pnum++
	n.sp = probe{to: n.succs[0], op: n.pnum, fb: true}
	n.sendProbe(n.sp, true, out)
}

// lastResort refills an exhausted successor list (every entry presumed dead or gone) with
// the other nodes this node knows, as candidates that the fallback adopts only when they
// answer that they are in the ring: its fingers, nearest first, then its predecessor. Without
// them a node whose successors all died would point at a dead node for ever, and every
// request routed through it would die there. A node that knows no other node is the last of
// its ring, and closes it on itself.
func (n *repairNode) lastResort() {
	if !n.inRing() || n.lphase != lNone {
		return
	}
	for _, f := range n.dht.Fingers() {
		if f != n.id && f != n.right && f != n.left {
			n.succs = append(n.succs, f)
		}
	}
	if n.left != None && n.left != n.id && n.left != n.right {
		n.succs = append(n.succs, n.left)
	}
	if len(n.succs) == 0 && n.left == None {
		n.right, n.left = n.id, n.id
	}
}

func (n *repairNode) predDead() {
	dead := n.pp.to
	n.pp = probe{to: None}
	n.dht.forgetFinger(dead)
	if n.left == dead {
		n.left = None
	}
}

// ask answers a peer's question and, for a notify, rectifies.
func (n *repairNode) ask(m Message, out *Output) {
	if m.Status == 1 && n.inRing() && m.From != n.lastLeft && m.From != n.id &&
		(n.left == None || n.ring.Between(n.left, m.From, n.id)) {
		if old := n.left; old != None && old != n.id {
			// The notifier displaces a predecessor not known dead, which still points here
			// (a node that came back after a failed leave re-enters this way). Tell it at once,
			// with the notifier as our new predecessor, so that it points at the notifier within
			// message delays rather than at its next round: should this node leave meanwhile,
			// its leave takes it out of the notifier's pointer only, and the old predecessor
			// would point at a departed node (stress seeds 15758 and others).
			out.send(n.stateMsg(old, m.From, 0))
		}
		n.left = m.From
	}
	if n.inRing() {
		// The list as the next round will have it: a handshake may have moved the right
		// pointer since the last one, and the asker builds its own list from this one.
		n.syncSuccs()
	}
	out.send(n.stateMsg(m.From, n.left, m.Op))
}

// stateMsg is a repair_state to to, naming neighbour (the sender's predecessor, or the node it
// has just taken as one) and carrying the node's list: an answer to ask op, or unasked (op 0).
func (n *repairNode) stateMsg(to, neighbour ID, op uint64) Message {
	return Message{Type: RepairState, From: n.id, To: to, Joiner: None, Neighbour: neighbour, Op: op, Status: n.flags(),
		Data: &Data{Succs: slices.Clone(n.succs)}}
}

// flags are the answer flags of repair_state.
func (n *repairNode) flags() uint8 {
	var st uint8
	if (n.jphase == jConnected || n.jphase == jWelcomed) && n.lphase != lDeparted {
		st |= repairMember
	}
	if n.inRing() {
		st |= repairInRing
	}
	return st
}

// state handles an answer to one of the node's probes.
func (n *repairNode) state(m Message, out *Output) {
	if m.Op == 0 {
		// The successor did not take our set_left: it names its predecessor, which lies
		// between us (a predecessor behind us or none, it would have taken us as its
		// predecessor). The gap is not ours: give the insertion up; stabilization adopts that
		// node as our successor if it is in the ring.
		if (n.ophase == oLinking || n.ophase == oUndoing) && m.From == n.succ {
			if q := m.Neighbour; q != None && q != n.pending && q != n.id && n.ring.Between(n.id, q, n.succ) {
				n.giveUpLink(out)
			}
		}
		if m.From == n.right && m.Data != nil && m.Status&repairInRing != 0 && n.ophase == oFree && n.inRing() {
			n.reconcile(m.From, m.Data.Succs, out) // a successor's list that changed (pushList)
			if q := m.Neighbour; q != None && q != n.id && n.sp.to == None && n.ring.Between(n.id, q, n.right) {
				// It took a node between us as its predecessor (ask): adopt it if it is in the ring.
				n.askSucc(q, true, out)
			}
		}
		return
	}
	if n.pp.to == m.From && n.pp.op == m.Op {
		n.pp = probe{to: None}
		if m.Status&repairMember == 0 {
			n.pp.to = m.From
			n.predDead()
			return
		}
		if n.left == m.From {
			n.demote()
			n.trim(m.Neighbour)
			if m.Data != nil {
				n.fillFromPred(m.Data.Succs, out)
			}
		}
		return
	}
	if n.sp.to != m.From || n.sp.op != m.Op {
		return // stale
	}
	var list []ID
	if m.Data != nil {
		list = m.Data.Succs
	}
	if n.sp.fb {
		if m.Status&repairInRing == 0 {
			// Left or leaving: its successors take its place in the list, then the next
			// entry is asked.
			n.inherit(m.From, list)
			n.succDead(out)
			return
		}
		n.sp = probe{to: None}
		if n.lphase == lHanded {
			if q := m.Neighbour; q != None && q != n.id && q != n.handQ && n.ring.Between(n.id, q, m.From) && !slices.Contains(n.succs, q) {
				// Its predecessor lies between us: a node our stale list missed. Ask it first
				// (once: a dead predecessor not yet found out would be named again).
				n.handQ = q
				n.succs = slices.Insert(n.succs, 0, q)
				n.fallBack(out)
				return
			}
			n.handTo(m.From, out)
			return
		}
		if n.ophase == oFree && n.inRing() {
			n.right = m.From
			n.reconcile(m.From, list, out)
			if q := m.Neighbour; q != None && q != n.id && n.ring.Between(n.id, q, m.From) {
				n.askSucc(q, true, out)
			}
		}
		return
	}
	if n.sp.cand {
		n.sp = probe{to: None}
		if m.Status&repairInRing != 0 && n.ophase == oFree && n.inRing() && n.ring.Between(n.id, m.From, n.right) {
			n.right = m.From
			n.reconcile(m.From, list, out)
			// Its own predecessor may lie between us too (several newcomers, or a fallback
			// past a stale list): walk back now rather than one node per round, so that a
			// node left without a predecessor hears from us before its copies age or it
			// crashes too.
			if q := m.Neighbour; q != None && q != n.id && n.ring.Between(n.id, q, m.From) {
				n.askSucc(q, true, out)
			}
		}
		return
	}
	if m.Status&repairMember == 0 {
		n.inherit(m.From, list)
		n.succDead(out)
		return
	}
	n.sp = probe{to: None}
	if n.lphase == lHanded {
		// A leaver's probe: its right neighbour lives, and takes the keys in time, unless it
		// names a predecessor between us (a node that re-entered by rectify after we asked to
		// leave): it takes keys from its predecessor only, so hand them to that node instead,
		// once it answers that it is in the ring (stress seed 44723: a leaver kept handing its
		// keys to a successor that ignored them, and pointed at it after it left).
		if q := m.Neighbour; q != None && q != n.id && q != n.handQ && m.From == n.right && n.ring.Between(n.id, q, m.From) {
			n.handQ = q
			n.succs = slices.Insert(slices.DeleteFunc(n.succs, func(s ID) bool { return s == q }), 0, q)
			n.fallBack(out)
		}
		return
	}
	if n.ophase != oFree || n.right != m.From {
		return
	}
	n.reconcile(m.From, list, out)
	if q := m.Neighbour; q != None && q != n.id && n.ring.Between(n.id, q, m.From) {
		n.askSucc(q, true, out)
	}
}

// reconcile makes the successor list s followed by s's own list, up to r entries (Zave's
// reconcile). A list s could not fill (its own successors died) is filled up from the
// node's old list, with the entries beyond its last, so that one short list does not
// shorten every list before it.
func (n *repairNode) reconcile(s ID, list []ID, out *Output) {
	n.listOf = s
	defer n.pushList(slices.Clone(n.succs), out)
	n.succs = n.extendList([]ID{s}, n.r, list, n.succs)
}

// pushList sends a list that changed from old to the predecessor at once (an unasked
// repair_state, Op 0), which takes it as from an answer: a change (a dead entry replaced, a
// newcomer) reaches the r nodes whose lists hold it within message delays, not one node per
// round, so that the keys are re-replicated before the next crash.
func (n *repairNode) pushList(old []ID, out *Output) {
	if slices.Equal(old, n.succs) || n.left == None || n.left == n.id || !n.inRing() {
		return
	}
	out.send(n.stateMsg(n.left, n.left, 0))
}

// inherit puts the successors of x, a list entry that answered that it left or is leaving,
// into the list after x: a node that left handed its range to its successor, so the nodes
// after it are ours too. A list whose entries left gracefully one by one since it was made
// (the rounds refresh it one hop at a time) would otherwise run out of live entries with a
// single crash. The entries are only candidates: the fallback adopts one only when it
// answers that it is in the ring.
func (n *repairNode) inherit(x ID, list []ID) {
	i := slices.Index(n.succs, x)
	if i < 0 || len(list) == 0 {
		return
	}
	n.succs = n.extendList(slices.Clone(n.succs[:i+1]), n.r+1, list, n.succs[i+1:])
}

// extendList appends to res (not empty, and sharing no storage with lists) the entries of
// lists, in order, that lie clockwise after res's last entry and before this node, until res
// holds limit entries: the one way every list of successors is merged.
func (n *repairNode) extendList(res []ID, limit int, lists ...[]ID) []ID {
	for _, l := range lists {
		for _, x := range l {
			if len(res) >= limit {
				return res
			}
			last := res[len(res)-1]
			if x == n.id || x == None || x == last || !n.ring.Between(last, x, n.id) {
				continue
			}
			res = append(res, x)
		}
	}
	return res
}

// fillFromPred fills a short successor list from the predecessor's list: the entries after
// this node there are its own next successors. A node whose successors died faster than its
// rounds refreshed the list (a newcomer's list holds its first successor only) finds live
// ones this way instead of asking a dead one for ever.
func (n *repairNode) fillFromPred(list []ID, out *Output) {
	if len(n.succs) >= n.r || !n.inRing() || n.left == None {
		return
	}
	// An empty list means that the right pointer was found dead with nothing to fall back on
	// (presumeDead); otherwise it stays (it may be a newcomer the list does not have yet).
	empty := len(n.succs) == 0
	for _, x := range list {
		if len(n.succs) >= n.r {
			break
		}
		// Only entries after us, before the predecessor again: the predecessor's list may
		// not have us yet (a newcomer asks at once), and then holds our successors only.
		if x == n.id || x == None || x == n.left || slices.Contains(n.succs, x) || !n.ring.Between(n.id, x, n.left) {
			continue
		}
		if len(n.succs) > 0 && !n.ring.Between(n.succs[len(n.succs)-1], x, n.id) {
			continue
		}
		n.succs = append(n.succs, x)
	}
	if empty {
		n.fallBack(out)
	}
}

// inRange reports whether x lies in (lo, hi].
func (n *repairNode) inRange(lo, x, hi ID) bool { return x == hi || n.ring.Between(lo, x, hi) }

// promote makes every copy of a key this node now owns a key of its own.
func (n *repairNode) promote() {
	d := n.dht.s
	if d == nil || n.left == None || n.jphase != jConnected {
		return
	}
	kept := d.replicas[:0]
	for _, it := range d.replicas {
		if n.inRange(n.left, it.ID, n.id) {
			d.store(it)
		} else {
			kept = append(kept, it)
		}
	}
	clear(d.replicas[len(kept):])
	d.replicas = kept
}

// demote makes keys outside the node's range copies, once its predecessor is known alive.
func (n *repairNode) demote() {
	d := n.dht.s
	if d == nil || n.left == None || d.replicate == 0 || n.jphase != jConnected || n.left == n.id {
		return
	}
	n.promote()
	kept := d.items[:0]
	for _, it := range d.items {
		if n.inRange(n.left, it.ID, n.id) {
			kept = append(kept, it)
		} else {
			d.replicas = putItem(d.replicas, it)
		}
	}
	clear(d.items[len(kept):])
	d.items = kept
}

// copies returns the node's keys and copies in (lo, hi], sorted.
func (n *repairNode) copies(lo, hi ID) []Item {
	d := n.dht.s
	if d == nil {
		return nil
	}
	var res []Item
	for _, list := range [2][]Item{d.items, d.replicas} {
		for _, it := range list {
			if n.inRange(lo, it.ID, hi) {
				res = putItem(res, it)
			}
		}
	}
	return res
}

// digestOf hashes items (sorted by ID and key).
func digestOf(items []Item) uint64 {
	h := fnv.New64a()
	var b []byte
	for _, it := range items {
		b = appendID(b[:0], it.ID)
		b = append(append(append(b, it.Key...), 0), it.Value...)
		b = append(b, 0)
		_, _ = h.Write(b)
	}
	return h.Sum64()
}

func (n *repairNode) sendDigests(out *Output) {
	if n.left == None || n.left == n.id || n.dht.s == nil || n.dht.s.replicate == 0 {
		return
	}
	sum := digestOf(n.copies(n.left, n.id))
	for i, s := range n.succs {
		if s == n.id || s == None || i >= n.dht.s.replicate {
			break
		}
		out.send(Message{Type: RepairDigest, From: n.id, To: s, Joiner: None, Neighbour: None, Key: n.left, Op: sum, Hops: uint16(i + 1)})
	}
}

// digest compares an owner's digest with this node's copies of its range.
func (n *repairNode) digest(m Message, out *Output) {
	if !n.inRing() {
		return
	}
	have := n.copies(m.Key, m.From)
	if digestOf(have) == m.Op {
		n.cover(m.Key, m.From)
		return
	}
	out.send(Message{Type: RepairSync, From: n.id, To: m.From, Joiner: None, Neighbour: None, Key: m.Key, Data: &Data{Items: have}})
}

// sync takes the keys of its range a successor has and this owner lacks, and pushes the
// range's keys back.
func (n *repairNode) sync(m Message, out *Output) {
	if !n.inRing() || n.left != m.Key || n.dht.s == nil {
		return // stale: the range has changed since the digest
	}
	d := n.dht.s
	if m.Data != nil {
		for _, it := range m.Data.Items {
			if !n.inRange(n.left, it.ID, n.id) {
				continue
			}
			if _, ok := d.find(it.ID, it.Key); !ok {
				d.store(it)
				d.replicas = dropItem(d.replicas, it)
			}
		}
	}
	mine := n.copies(n.left, n.id)
	if m.Data != nil && digestOf(mine) == digestOf(m.Data.Items) {
		return
	}
	out.send(Message{Type: RepairPush, From: n.id, To: m.From, Joiner: None, Neighbour: None, Key: n.left, Data: &Data{Items: mine}})
}

// push replaces this node's copies of the owner's range with the owner's keys.
func (n *repairNode) push(m Message) {
	if !n.inRing() || m.Data == nil {
		return
	}
	d := n.dht.st()
	d.replicas = slices.DeleteFunc(d.replicas, func(it Item) bool { return n.inRange(m.Key, it.ID, m.From) })
	for _, it := range m.Data.Items {
		if _, own := d.find(it.ID, it.Key); !own {
			d.replicas = putItem(d.replicas, it)
		}
	}
	n.cover(m.Key, m.From)
}

// cover records that an owner's digest covered (lo, hi] just now. A range that shrank (a
// newcomer took part of it) keeps its old extent until that ages out, so that the copies of
// the newcomer's part stay until its own digests cover them.
func (n *repairNode) cover(lo, hi ID) {
	for i := range n.spans {
		if n.spans[i].hi == hi && n.spans[i].lo == lo {
			n.spans[i].age = 0
			return
		}
	}
	n.spans = append(n.spans, span{lo: lo, hi: hi})
}

// ageSpans ages the covered ranges, once a round.
func (n *repairNode) ageSpans() {
	n.spans = slices.DeleteFunc(n.spans, func(s span) bool { return s.age >= coverAge })
	for i := range n.spans {
		n.spans[i].age++
	}
	if n.rounds < coverAge {
		n.rounds++
	}
}

// trim drops copies no owner has covered for coverAge periods. It runs when the predecessor
// has just answered that it is in the ring, never on a predecessor that may have died since
// it last answered: a copy outside (left, id] is extra only while left is alive to own the
// range before it. Trimmed at the round instead, a node whose predecessor had crashed a
// moment before dropped what had become the last copy of keys it was about to own (stress
// seed 11066: 4 keys lost). Copies of the predecessor's own range, (predLeft, left], stay
// whatever the digests said: this node is the first of that range's successors, and a
// predecessor whose range has just grown (its own predecessor left through it) covers the
// new part only with its next digest.
func (n *repairNode) trim(predLeft ID) {
	if n.rounds < coverAge {
		return // too new to know which ranges it copies: every owner has not sent a digest yet
	}
	d := n.dht.s
	if d == nil || n.left == None || len(d.replicas) == 0 {
		return
	}
	d.replicas = slices.DeleteFunc(d.replicas, func(it Item) bool {
		if n.inRange(n.left, it.ID, n.id) {
			return false
		}
		if predLeft != None && predLeft != n.left && n.inRange(predLeft, it.ID, n.left) {
			return false
		}
		for _, s := range n.spans {
			if n.inRange(s.lo, it.ID, s.hi) {
				return false
			}
		}
		return true
	})
}

// linked reports whether insertion op by owner moved this node's left pointer.
func (n *repairNode) linked(owner ID, op uint64) bool {
	for _, r := range n.took {
		if r.owner == owner {
			return op <= r.op
		}
	}
	return false
}

// link records that insertion op by owner moved this node's left pointer.
func (n *repairNode) link(owner ID, op uint64) {
	for i := range n.took {
		if n.took[i].owner == owner {
			n.took[i].op = max(n.took[i].op, op)
			return
		}
	}
	n.took = append(n.took, undoneOp{owner, op})
}

func (n *repairNode) State() State { return n.retryNode.State() }

func (n *repairNode) own() {
	n.retryNode.own()
	n.succs = slices.Clone(n.succs)
	n.spans = slices.Clone(n.spans)
	n.took = slices.Clone(n.took)
}

func (n *repairNode) AppendKey(b []byte) []byte {
	b = n.retryNode.AppendKey(b)
	b = append(b, 0xfa, byte(len(n.succs)))
	for _, s := range n.succs {
		b = appendID(b, s)
	}
	for _, p := range []probe{n.sp, n.pp} {
		b = appendID(appendID(b, p.to), ID(p.op))
		b = append(b, p.tries)
		b = appendBools(b, p.cand, p.fb)
	}
	b = append(b, byte(len(n.spans)))
	for _, s := range n.spans {
		b = append(appendID(appendID(b, s.lo), s.hi), s.age)
	}
	b = appendID(appendID(b, n.lastLeft), n.listOf)
	b = appendID(append(b, n.leftAge), n.handQ)
	took := slices.Clone(n.took)
	slices.SortFunc(took, func(a, b undoneOp) int { return cmp.Compare(a.owner, b.owner) })
	b = append(b, byte(len(took)))
	for _, r := range took {
		b = appendID(appendID(b, r.owner), ID(r.op))
	}
	b = appendID(appendID(b, ID(n.sepoch)), ID(n.pnum))
	b = appendBools(b, n.stabOn)
	b = append(b, n.rounds)
	return append(b, byte(n.linkTries), byte(n.abortTries))
}
