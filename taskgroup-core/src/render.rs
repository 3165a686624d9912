//! How an [`ErrorGroup`](crate::ErrorGroup) prints: CPython's traceback boxes for `{:#}`, and a
//! structural `Debug`; both capped so that huge or deep trees print in bounded space.

use std::fmt;

use crate::cancel_reason::CancelReason;
use crate::error_group::{ErrorGroup, Member};

/// CPython's `traceback.print_exception` shows at most this many members per group.
pub const MAX_GROUP_WIDTH: usize = 15;
/// ... and this many levels of nested groups.
pub const MAX_GROUP_DEPTH: usize = 10;
/// `Debug` stops descending here.
const MAX_DEBUG_DEPTH: usize = 32;

struct Printer<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    depth: usize,
    need_close: bool,
    /// Each leaf's time in front of it (the timeline form).
    times: bool,
}

impl Printer<'_, '_> {
    fn indent(&mut self) -> fmt::Result {
        for _ in 0..self.depth {
            self.f.write_str("  ")?;
        }
        Ok(())
    }

    /// Writes each line of `text` behind the current margin.
    fn emit(&mut self, text: fmt::Arguments<'_>) -> fmt::Result {
        let text = text.to_string();
        for line in text.split('\n') {
            self.indent()?;
            if self.depth > 0 {
                self.f.write_str("| ")?;
            }
            self.f.write_str(line)?;
            self.f.write_str("\n")?;
        }
        Ok(())
    }

    fn group(
        &mut self,
        message: &str,
        name: Option<&str>,
        stopped_by: Option<&CancelReason>,
        members: &[Member],
    ) -> fmt::Result {
        if self.depth > MAX_GROUP_DEPTH {
            return self.emit(format_args!("... (max_group_depth is {MAX_GROUP_DEPTH})"));
        }
        let top = self.depth == 0;
        if top {
            self.depth += 1;
        }
        let count = members.len();
        let plural = if count == 1 { "" } else { "s" };
        self.emit(format_args!(
            "ErrorGroup: {message} ({count} sub-exception{plural}){}",
            NameSuffix(name)
        ))?;
        if let (true, Some(why)) = (self.times, stopped_by) {
            self.emit(format_args!("(stopped: {why})"))?;
        }
        let shown = count.min(MAX_GROUP_WIDTH + 1);
        self.need_close = false;
        for (i, member) in members.iter().enumerate().take(shown) {
            let last = i + 1 == shown;
            if last {
                self.need_close = true;
            }
            let truncated = i >= MAX_GROUP_WIDTH;
            self.indent()?;
            self.f.write_str(if i == 0 { "+-" } else { "  " })?;
            if truncated {
                self.f
                    .write_str("+---------------- ... ----------------\n")?;
            } else {
                writeln!(self.f, "+---------------- {} ----------------", i + 1)?;
            }
            self.depth += 1;
            if truncated {
                let more = count - MAX_GROUP_WIDTH;
                let plural = if more == 1 { "" } else { "s" };
                self.emit(format_args!("and {more} more exception{plural}"))?;
            } else {
                self.member(member)?;
            }
            if last && self.need_close {
                self.indent()?;
                self.f
                    .write_str("+------------------------------------\n")?;
                self.need_close = false;
            }
            self.depth -= 1;
        }
        if top {
            self.depth = 0;
        }
        Ok(())
    }

    fn member(&mut self, member: &Member) -> fmt::Result {
        match member {
            Member::Group(group) => self.group(
                group.message(),
                group.name(),
                group.stopped_by(),
                group.members(),
            ),
            Member::Leaf(leaf) => {
                let text = leaf.to_string();
                let at = At(self.times.then(|| leaf.recorded_at()));
                if text.is_empty() {
                    self.emit(format_args!("{at}{}", leaf.type_name()))
                } else {
                    self.emit(format_args!("{at}{}: {text}", leaf.type_name()))
                }
            }
        }
    }
}

/// ` [name]` after a named group's message; nothing for an unnamed one, so that the output of
/// unnamed groups is CPython's, to the byte.
struct NameSuffix<'a>(Option<&'a str>);

impl fmt::Display for NameSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(name) => write!(f, " [{name}]"),
            None => Ok(()),
        }
    }
}

/// `[+12 ms] ` before a leaf in the timeline form: milliseconds from the start of the scope
/// that recorded it, with a fraction under 10 ms; `[+?] ` for a leaf no group recorded.
struct At(Option<Option<std::time::Duration>>);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => Ok(()),
            Some(None) => f.write_str("[+?] "),
            Some(Some(at)) => {
                let ms = at.as_secs_f64() * 1e3;
                if ms < 10.0 {
                    write!(f, "[+{ms:.1} ms] ")
                } else {
                    write!(f, "[+{} ms] ", at.as_millis())
                }
            }
        }
    }
}

pub(crate) fn traceback(
    message: &str,
    name: Option<&str>,
    stopped_by: Option<&CancelReason>,
    members: &[Member],
    times: bool,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    Printer {
        f,
        depth: 0,
        need_close: false,
        times,
    }
    .group(message, name, stopped_by, members)
}

/// [`ErrorGroup::timeline`]'s value: the traceback form with each leaf's time.
pub struct Timeline<'a, E: ?Sized>(pub(crate) &'a ErrorGroup<E>);

impl<E: ?Sized> fmt::Display for Timeline<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = self.0;
        traceback(
            group.message(),
            group.name(),
            group.stopped_by(),
            group.members(),
            true,
            f,
        )
    }
}

impl<E: ?Sized> fmt::Debug for Timeline<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

struct DebugGroup<'a> {
    message: &'a str,
    members: &'a [Member],
    depth: usize,
}

struct DebugMember<'a> {
    member: &'a Member,
    depth: usize,
}

impl fmt::Debug for DebugGroup<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.depth >= MAX_DEBUG_DEPTH {
            return f.write_str("ErrorGroup { .. }");
        }
        let members: Vec<_> = self
            .members
            .iter()
            .map(|member| DebugMember {
                member,
                depth: self.depth + 1,
            })
            .collect();
        f.debug_struct("ErrorGroup")
            .field("message", &self.message)
            .field("members", &members)
            .finish()
    }
}

impl fmt::Debug for DebugMember<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.member {
            Member::Leaf(leaf) => fmt::Debug::fmt(leaf, f),
            Member::Group(group) => fmt::Debug::fmt(
                &DebugGroup {
                    message: group.message(),
                    members: group.members(),
                    depth: self.depth,
                },
                f,
            ),
        }
    }
}

pub(crate) fn debug(message: &str, members: &[Member], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    fmt::Debug::fmt(
        &DebugGroup {
            message,
            members,
            depth: 0,
        },
        f,
    )
}

impl<E: ?Sized> fmt::Display for ErrorGroup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            // `{:+#}` is the timeline form.
            let times = f.sign_plus();
            return traceback(
                self.message(),
                self.name(),
                self.stopped_by(),
                self.members(),
                times,
                f,
            );
        }
        let n = self.members().len();
        let plural = if n == 1 { "" } else { "s" };
        write!(
            f,
            "{} ({n} sub-exception{plural}){}",
            self.message(),
            NameSuffix(self.name())
        )
    }
}

impl<E: ?Sized> fmt::Debug for ErrorGroup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug(self.message(), self.members(), f)
    }
}
