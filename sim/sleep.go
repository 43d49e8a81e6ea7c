package sim

// Under the seed timing model a node with nothing to do polls its inbox once per unit, and
// those polls were nearly all of a run's events. A node that finds nothing sleeps instead:
// it joins a group of sleeping loops, and one queue item per group stands for all of their
// polls at one instant. Each group keeps its members in the order their polls would run,
// and its item ties exactly where their polls would have been pushed (queue.pushGap), so the
// polls keep their place among the real events. A message landing in a sleeper's inbox, or
// a timer it handles, marks it woken; when its group comes up, the members before it poll in
// bulk, it runs as a real wake, and the members after it poll after that, as they would have.

// pollGroup is sleeping loops that poll at the same instant with no push between them.
type pollGroup struct {
	members []int32 // in the order their polls run
	at      int64
	woken   int32 // members with something to do at their next poll
}

type sleepers struct {
	groups []pollGroup
	free   []int32
	of     []int32 // each node's group, -1 when it is not asleep
	woken  []bool
	// recent holds groups pushed since the last push, which later sleepers for the same
	// instant join rather than tie with.
	recent      []int32
	recentSeq   uint32
	recentEpoch uint32
	queued      int // group items in the queue
	wokenTotal  int // woken members over all groups
	takeOvers   int // groups that took another's place (takeOver), for the tests
}

// sleep puts node i, whose loop found nothing to do, to sleep until it has something: its
// next poll is one unit from now.
func (s *Sim) sleep(i int32) {
	sl := &s.sl
	if len(sl.of) == 0 {
		sl.of, sl.woken = grown(sl.of, len(s.nodes)), grown(sl.woken, len(s.nodes))
		for k := range sl.of {
			sl.of[k] = -1
		}
		clear(sl.woken)
	}
	one := [1]int32{i}
	s.place(s.now+s.cfg.Unit, one[:])
}

// place queues the polls of members, in order, at time at, after everything pushed so far.
func (s *Sim) place(at int64, members []int32) {
	if len(members) == 0 {
		return
	}
	sl := &s.sl
	if g := s.tie(at); g >= 0 {
		grp := &sl.groups[g]
		grp.members = append(grp.members, members...)
		for _, m := range members {
			sl.of[m] = g
		}
		return
	}
	var g int32
	if k := len(sl.free); k > 0 {
		g = sl.free[k-1]
		sl.free = sl.free[:k-1]
	} else {
		// Room for every node: a group's members then never move as it grows.
		sl.groups = append(sl.groups, pollGroup{members: make([]int32, 0, len(s.nodes))})
		g = int32(len(sl.groups) - 1)
	}
	grp := &sl.groups[g]
	grp.members = append(grp.members[:0], members...)
	grp.at, grp.woken = at, 0
	for _, m := range members {
		sl.of[m] = g
	}
	s.q.pushGap(at, evPolls, g)
	sl.queued++
	s.pushedGroup(g)
}

// tie returns the group that polls at time at and was pushed after the last push, or -1.
// With the queue's calendar on, it is the group pushed last for time at, if nothing was
// pushed for that time after it: pushes for other times do not come between their polls.
func (s *Sim) tie(at int64) int32 {
	if s.q.unit > 0 {
		if it := s.q.lastAt(at); it != nil && it.kind() == evPolls {
			return it.idx()
		}
		return -1
	}
	sl := &s.sl
	if sl.recentSeq != s.q.seq || sl.recentEpoch != s.q.epoch {
		sl.recent, sl.recentSeq, sl.recentEpoch = sl.recent[:0], s.q.seq, s.q.epoch
	}
	for _, g := range sl.recent {
		if sl.groups[g].at == at {
			return g
		}
	}
	return -1
}

// pushedGroup notes that group g was just pushed, for tie: without the calendar, the groups
// pushed since the last push are the ones later sleepers can join.
func (s *Sim) pushedGroup(g int32) {
	if s.q.unit == 0 {
		s.sl.recent = append(s.sl.recent, g)
	}
}

// wake marks sleeping node i as having something to do at its next poll.
func (s *Sim) wake(i int32) {
	sl := &s.sl
	if len(sl.of) == 0 || sl.of[i] < 0 || sl.woken[i] {
		return
	}
	sl.woken[i] = true
	sl.groups[sl.of[i]].woken++
	sl.wokenTotal++
}

// polls runs the polls of group g, now: the sleepers' in bulk (each still counts as an
// event), the woken members' as real wakes of their loops.
func (s *Sim) polls(g int32) {
	sl := &s.sl
	for k, r := range sl.recent {
		if r == g {
			sl.recent = append(sl.recent[:k], sl.recent[k+1:]...)
			break
		}
	}
	sl.queued--
	grp := &sl.groups[g]
	members, at := grp.members, s.now+s.cfg.Unit
	if sl.wokenTotal == 0 && sl.queued == s.q.Len() {
		s.idleToHorizon(g)
		return
	}
	if grp.woken == 0 {
		s.events += int64(len(members))
		if s.tie(at) < 0 {
			// The common case: the group polls again one unit on, as one item.
			grp.at = at
			s.q.pushGap(at, evPolls, g)
			sl.queued++
			s.pushedGroup(g)
			return
		}
		if s.takeOver(g, members[:0], members, at) {
			return
		}
		grp.members = nil
		s.place(at, members)
		sl.groups[g].members = members[:0]
		sl.free = append(sl.free, g)
		return
	}
	// Members up to the last woken one are split off in runs; the rest keep the group's
	// slot, so a wake costs its position in the group, not the group's size.
	left := grp.woken
	grp.members = nil // groups placed below must not share the slice being read
	run := 0
	for k := 0; left > 0; k++ {
		m := members[k]
		if !sl.woken[m] {
			continue
		}
		left--
		sl.wokenTotal--
		s.events += int64(k - run)
		s.place(at, members[run:k])
		run = k + 1
		sl.woken[m], sl.of[m] = false, -1
		s.events++
		s.runLoop(m)
		if s.check.Dirty() {
			s.runSafetyCheck()
		}
		if s.stopped != "" {
			return // the run ends here: the polls after this one never happen
		}
	}
	rest := members[run:]
	s.events += int64(len(rest))
	if len(rest) > 0 && s.tie(at) < 0 {
		grp := &sl.groups[g] // place may have moved the groups
		// Moved to the front, so that the group keeps its room to grow.
		grp.members, grp.at, grp.woken = members[:copy(members, rest)], at, 0
		s.q.pushGap(at, evPolls, g)
		sl.queued++
		sl.recent = append(sl.recent, g)
		return
	}
	if len(rest) > 0 && s.takeOver(g, members[:0], rest, at) {
		return
	}
	s.place(at, rest)
	sl.groups[g].members = members[:0]
	sl.free = append(sl.free, g)
}

// takeOver places rest, the members of group g still to poll at time at, which g's storage
// store holds, when the group t pushed last for time at (tie) is the smaller: rather than
// append rest to t, which costs a write for each of them, g takes t's place in the queue with
// t's members in front of rest, and t is freed. The polls' order is the same either way. It
// reports false, having done nothing, when it does not apply: without the calendar, whose
// item it needs to hand over, with no group to tie with, or when t is not the smaller.
//
// A woken member is usually near the front of its group, and it goes back to sleep, or wakes
// again, at the next unit: the group for that unit is then its own new one, and the rest of
// its old group, nearly all of it, used to be moved into it one member at a time.
func (s *Sim) takeOver(g int32, store, rest []int32, at int64) bool {
	if s.q.unit == 0 {
		return false
	}
	it := s.q.lastAt(at)
	if it == nil || it.kind() != evPolls {
		return false
	}
	sl := &s.sl
	t := it.idx()
	tm := sl.groups[t].members
	n := len(tm)
	if n >= len(rest) || cap(store) < n+len(rest) {
		return false
	}
	merged := store[:n+len(rest)]
	copy(merged[n:], rest)
	copy(merged, tm)
	for _, m := range tm {
		sl.of[m] = g
	}
	grp, tg := &sl.groups[g], &sl.groups[t]
	grp.members, grp.at, grp.woken = merged, at, tg.woken
	tg.members, tg.woken = tm[:0], 0
	sl.free = append(sl.free, t)
	it.setIdx(g)
	sl.takeOvers++
	return true
}

// idleToHorizon ends a run in which only sleepers are left, none of them woken: nothing can
// happen any more but their polls, once per unit until the horizon, which it counts as
// events without running them. The run's clock ends at the last of those polls.
func (s *Sim) idleToHorizon(g int32) {
	sl := &s.sl
	last := s.now
	count := func(g int32, at int64) {
		if at >= s.cfg.Horizon {
			return
		}
		polls := (s.cfg.Horizon - at + s.cfg.Unit - 1) / s.cfg.Unit
		s.events += polls * int64(len(sl.groups[g].members))
		last = max(last, at+(polls-1)*s.cfg.Unit)
	}
	count(g, s.now)
	s.q.each(func(it *item) { count(it.idx(), it.at) })
	s.q.clear()
	sl.queued = 0
	s.now = last
}

// clear forgets every sleeper, for a simulator that starts another run.
func (sl *sleepers) clear() {
	for i := range sl.groups {
		sl.groups[i].members = sl.groups[i].members[:0]
	}
	sl.free = sl.free[:0]
	for i := len(sl.groups) - 1; i >= 0; i-- {
		sl.free = append(sl.free, int32(i))
	}
	sl.of, sl.woken = sl.of[:0], sl.woken[:0] // their storage is kept for sleep
	sl.recent, sl.recentSeq, sl.recentEpoch = sl.recent[:0], 0, 0
	sl.queued, sl.wokenTotal, sl.takeOvers = 0, 0, 0
}
