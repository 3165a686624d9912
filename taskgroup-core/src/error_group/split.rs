//! Splitting a group by its leaves, as PEP 654's `split` and `subgroup` do: the `except*`
//! machinery's core operation.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::sync::Arc;

use super::{ErrorGroup, Member};
use crate::error_types::ErrorTypes;
use crate::leaf::Leaf;

impl ErrorGroup {
    /// Splits the group by a predicate on leaves, as PEP 654's `split`: the first part holds the
    /// leaves that match, the second the rest. Both keep the messages, nesting and order of the
    /// original; groups left empty are pruned; a side with no leaf is `None`. Every leaf lands
    /// in exactly one side.
    pub fn split_by<P>(mut self, mut predicate: P) -> (Option<ErrorGroup>, Option<ErrorGroup>)
    where
        P: FnMut(&Leaf) -> bool,
    {
        // An explicit stack: trees may be far deeper than the thread's stack allows recursion.
        struct Frame {
            message: Cow<'static, str>,
            name: Option<Arc<str>>,
            pending: std::vec::IntoIter<Member>,
            matched: Vec<Member>,
            rest: Vec<Member>,
        }
        fn frame(group: &mut ErrorGroup) -> Frame {
            let members = std::mem::take(&mut group.members);
            Frame {
                message: group.message.clone(),
                name: group.name_arc(),
                matched: Vec::new(),
                rest: Vec::new(),
                pending: members.into_iter(),
            }
        }
        fn side(
            message: Cow<'static, str>,
            name: Option<Arc<str>>,
            mut members: Vec<Member>,
        ) -> Option<ErrorGroup> {
            members.shrink_to_fit();
            (!members.is_empty()).then(|| ErrorGroup::from_parts(message, members).named(name))
        }
        // A side's first member reserves room for every member still to come, so that a large
        // group's sides never grow (and copy) as they fill; `side` gives the rest back.
        fn push(side: &mut Vec<Member>, member: Member, to_come: usize) {
            if side.capacity() == 0 {
                side.reserve_exact(to_come + 1);
            }
            side.push(member);
        }

        let mut stack = vec![frame(&mut self)];
        while let Some(top) = stack.last_mut() {
            match top.pending.next() {
                Some(Member::Leaf(leaf)) => {
                    let to_come = top.pending.len();
                    if predicate(&leaf) {
                        push(&mut top.matched, Member::Leaf(leaf), to_come);
                    } else {
                        push(&mut top.rest, Member::Leaf(leaf), to_come);
                    }
                }
                Some(Member::Group(mut group)) => {
                    let child = frame(&mut group);
                    stack.push(child);
                }
                None => {
                    let done = stack.pop().expect("the loop holds a frame");
                    let matched = side(done.message.clone(), done.name.clone(), done.matched);
                    let rest = side(done.message, done.name, done.rest);
                    match stack.last_mut() {
                        Some(parent) => {
                            let to_come = parent.pending.len();
                            if let Some(matched) = matched {
                                push(&mut parent.matched, Member::Group(matched), to_come);
                            }
                            if let Some(rest) = rest {
                                push(&mut parent.rest, Member::Group(rest), to_come);
                            }
                        }
                        None => return (matched, rest),
                    }
                }
            }
        }
        (None, None)
    }

    /// Splits off the leaves of type `E` as a typed group; see [`split_by`](Self::split_by).
    pub fn split<E: StdError + 'static>(self) -> (Option<ErrorGroup<E>>, Option<ErrorGroup>) {
        let (matched, rest) = self.split_by(Leaf::is::<E>);
        (matched.map(ErrorGroup::retyped), rest)
    }

    /// Splits off the leaves of type `E` that `predicate` accepts, as a typed group: an
    /// `except*` clause with Rust patterns (`except* FetchError::Status(404) as eg`). Leaves of
    /// other types, and those of type `E` it refuses, stay in the rest; see
    /// [`split_by`](Self::split_by). Only the leaf itself is looked at, never its
    /// [`source`](StdError::source) chain, as CPython's `except*` matches the exception and
    /// not its `__cause__`.
    ///
    /// ```
    /// # use taskgroup_core as taskgroup;
    /// use taskgroup::ErrorGroup;
    /// use std::io;
    ///
    /// let eg = ErrorGroup::new(
    ///     "io",
    ///     vec![io::Error::from(io::ErrorKind::NotFound).into(), io::Error::other("disk").into()],
    /// )
    /// .unwrap();
    /// let (missing, rest) = eg.split_matching(|e: &io::Error| e.kind() == io::ErrorKind::NotFound);
    /// assert_eq!(missing.unwrap().error_count(), 1);
    /// assert_eq!(rest.unwrap().leaves().next().unwrap().to_string(), "disk");
    /// ```
    pub fn split_matching<E, P>(
        self,
        mut predicate: P,
    ) -> (Option<ErrorGroup<E>>, Option<ErrorGroup>)
    where
        E: StdError + 'static,
        P: FnMut(&E) -> bool,
    {
        let (matched, rest) =
            self.split_by(|leaf| leaf.downcast_ref::<E>().is_some_and(&mut predicate));
        (matched.map(ErrorGroup::retyped), rest)
    }

    /// Splits off the leaves whose type is any of the tuple `T`, such as `(ValueError, TypeError)`.
    pub fn split_any<T: ErrorTypes>(self) -> (Option<ErrorGroup>, Option<ErrorGroup>) {
        self.split_by(T::matches)
    }

    /// The matching side of [`split_by`](Self::split_by), as PEP 654's `subgroup`.
    pub fn subgroup_by<P: FnMut(&Leaf) -> bool>(self, predicate: P) -> Option<ErrorGroup> {
        self.split_by(predicate).0
    }

    /// The leaves of type `E`, as a typed group with the original shape.
    pub fn subgroup<E: StdError + 'static>(self) -> Option<ErrorGroup<E>> {
        self.split::<E>().0
    }
}
