//! Putting re-raised leaves back in their original place: the shape of the group an
//! [`ExceptStar`](crate::ExceptStar) started from, and the projection of that shape onto the
//! leaves that are left (CPython's `exception_group_projection`).

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error_group::{ErrorGroup, Member};
use crate::leaf::Leaf;

/// One number per `ExceptStar`, in the high half of its leaves' ids, so that a leaf of
/// another group is never taken for one of this group's. A leaf's id 0 means "no place".
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// One step of a depth-first walk of the original group.
enum Step {
    Open {
        message: Cow<'static, str>,
        name: Option<Arc<str>>,
    },
    /// The next leaf; leaves are numbered in walk order from `base`.
    Leaf,
    Close,
}

/// The original group's shape and, once something is re-raised, the leaves going back.
pub(crate) struct Places {
    generation: u64,
    count: u64,
    shape: Vec<Step>,
    /// Indexed by a leaf's place in the walk; empty until the first re-raise.
    back: Vec<Option<Leaf>>,
}

impl Places {
    /// Records the shape of `group` and numbers its leaves (iteratively: trees may be deep).
    pub(crate) fn new(group: &mut ErrorGroup) -> Places {
        let generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed);
        let mut shape = vec![open(group)];
        let mut count = 0u64;
        let mut stack = vec![group.members_vec().iter_mut()];
        while let Some(top) = stack.last_mut() {
            match top.next() {
                Some(Member::Leaf(leaf)) => {
                    leaf.set_origin(generation << 32 | count);
                    count += 1;
                    shape.push(Step::Leaf);
                }
                Some(Member::Group(inner)) => {
                    shape.push(open(inner));
                    stack.push(inner.members_vec().iter_mut());
                }
                None => {
                    stack.pop();
                    shape.push(Step::Close);
                }
            }
        }
        Places {
            generation,
            count,
            shape,
            back: Vec::new(),
        }
    }

    /// The leaf's place in the original group, if it came from it.
    fn place(&self, leaf: &Leaf) -> Option<usize> {
        let origin = leaf.origin();
        let index = origin & u64::from(u32::MAX);
        (origin >> 32 == self.generation && index < self.count).then_some(index as usize)
    }

    /// Whether anything was re-raised.
    pub(crate) fn any_back(&self) -> bool {
        !self.back.is_empty()
    }

    /// Takes back a group's leaves to put in place; the leaves that are not the original
    /// group's come back as a group, to be raised as a new error.
    pub(crate) fn put_back(&mut self, group: ErrorGroup) -> Option<ErrorGroup> {
        let (mut mine, foreign) = group.split_by(|leaf| self.place(leaf).is_some());
        if let Some(mine) = &mut mine {
            if self.back.is_empty() {
                self.back.resize_with(self.count as usize, || None);
            }
            let mut pending = std::mem::take(mine.members_vec());
            while let Some(member) = pending.pop() {
                match member {
                    Member::Leaf(leaf) => {
                        if let Some(index) = self.place(&leaf) {
                            self.back[index] = Some(leaf);
                        }
                    }
                    Member::Group(mut inner) => pending.append(inner.members_vec()),
                }
            }
        }
        foreign
    }

    /// The original shape restricted to the leaves put back, with the original messages and
    /// names (CPython's projection); `None` if none was.
    pub(crate) fn project(self) -> Option<ErrorGroup> {
        struct Frame {
            message: Cow<'static, str>,
            name: Option<Arc<str>>,
            members: Vec<Member>,
        }
        let mut leaves = self.back.into_iter();
        let mut stack: Vec<Frame> = Vec::new();
        for step in self.shape {
            match step {
                Step::Open { message, name } => stack.push(Frame {
                    message,
                    name,
                    members: Vec::new(),
                }),
                Step::Leaf => {
                    if let (Some(Some(leaf)), Some(top)) = (leaves.next(), stack.last_mut()) {
                        top.members.push(Member::Leaf(leaf));
                    }
                }
                Step::Close => {
                    let done = stack.pop()?;
                    let group = (!done.members.is_empty()).then(|| {
                        ErrorGroup::from_parts(done.message, done.members).named(done.name)
                    });
                    match stack.last_mut() {
                        Some(parent) => parent.members.extend(group.map(Member::Group)),
                        None => return group,
                    }
                }
            }
        }
        None
    }
}

fn open(group: &ErrorGroup) -> Step {
    let (message, name) = group.header();
    Step::Open { message, name }
}
