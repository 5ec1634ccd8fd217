//! Path templating: turning recorded concrete paths such as `/v2/pokemon/77`
//! into OpenAPI path templates such as `/v2/pokemon/{pokemonId}`.
//!
//! Paths are folded one at a time into a tree of segments ([`PathTree`]); each
//! node that some recorded path ended on carries the builder's per-path data
//! (a [`PathPayload`]). When the recording is exhausted, [`PathTree::finish`]
//! merges look-alike siblings and emits the templates ([`PathTemplate`]).
//!
//! # How a path becomes a template
//!
//! - **Splitting.** The path is split on `/`; empty segments (from `//`) are
//!   ignored, and anything from the first `?` or `#` on is dropped. `/a/` and
//!   `/a` are the same template: it gets a trailing slash when most of the
//!   requests that landed on it had one (a tie means no slash). The root path
//!   is the template `/`.
//! - **Identifiers become parameters at once.** A segment that reads as an
//!   identifier — an integer, UUID, long hex string, ULID, ISO date, e-mail
//!   address or generated token such as `cus_8Fq2hjk3Lm` — is a parameter
//!   from its first occurrence: a single request to `/users/42` yields
//!   `/users/{userId}`. Percent-encoded segments are decoded before they are
//!   classified (`%34%32` is the integer 42); a segment that stays literal keeps
//!   its recorded, encoded text in the template (except that `{` and `}` are
//!   always written as `%7B` and `%7D` so that they cannot be mistaken for a
//!   parameter).
//! - **Structural words always stay literal.** Versions (`v1`, `v2beta`,
//!   `v1.1`) and words such as `api`, `me`, `search`, `health`, `login`,
//!   `refund` or `capture` are never folded into a parameter, so `/users/me`
//!   stays next to `/users/{userId}`, and `/payments/pay_1a2b3c/refund` and
//!   `/payments/pay_9z8y7x/capture` give `/payments/{paymentId}/refund` and
//!   `/payments/{paymentId}/capture`.
//! - **Parameter names** come from the literal segment just before the
//!   parameter, singularised and camel-cased, plus `Id`: `users` → `userId`,
//!   `categories` → `categoryId`, `payment-methods` → `paymentMethodId`,
//!   `people` → `personId`. A parameter that follows another parameter, starts
//!   the path, or follows `api`, `apis`, `rest` or a version is named `id`.
//!   Names are unique within a template: a second `id` becomes `id2`, and so on.
//! - **Parameter types.** A parameter is an `integer` when every value seen was
//!   an integer, a `string` with format `uuid`, `date` or `email` when every
//!   value was one of those, and a plain `string` otherwise. Its example is the
//!   first value recorded for it.
//! - **Merging look-alike siblings.** Words are not identifiers, so
//!   `/pokemon/ditto` is first kept as a literal path. At the end, a literal
//!   path is folded into its parameter sibling (`/pokemon/{pokemonId}`, known
//!   from a request such as `/pokemon/77`) when
//!   - the word is not structural,
//!   - every path below it also exists below the parameter, literal for
//!     literal and parameter for parameter (words deeper down fold first, in
//!     an earlier pass: `/users/ada/posts/hello` becomes
//!     `/users/ada/posts/{postId}` and then fits
//!     `/users/{userId}/posts/{postId}`), and no word folded into a
//!     parameter below it has the name of a literal on the other side,
//!   - and wherever the literal side has traffic of its own, the parameter
//!     side has traffic that it resembles (same methods, similar responses).
//!
//!   The word then counts as a parameter value, making the parameter a plain
//!   string; the parameter's example stays its own first value.
//!   Merging works from the root down, so the traffic of every recorded path
//!   ends up in the template that a router preferring literal segments over
//!   parameters picks for that path.
//! - **Words that behave like values become a parameter.** Real APIs name
//!   resources with words (`/orgs/initech/repos/billing-api/issues/17`), so
//!   spelling cannot be the only evidence. After each top-down pass, a
//!   bottom-up pass looks at every position's non-structural literal
//!   children and asks whether they are interchangeable: values of one
//!   parameter have the same structure below them and answer alike, while
//!   names of resources have different structure and answer differently.
//!   Bottom-up, so that deeper values are already parameters when a
//!   position is judged (`/orgs/*` and `/users/*` both then hold a parameter,
//!   which by itself is no evidence, while `/orgs/initech/repos` and
//!   `/orgs/hooper/repos` share `repos`). For two siblings:
//!   - their **own traffic** is compared ([`PathPayload::alike`]: a method
//!     both answered successfully must answer with the same media type, both
//!     objects or both lists, sharing at least half their keys, list items'
//!     keys for lists); a difference separates them;
//!   - their **structure** is compared: the relative paths below each (3
//!     levels, at most 48 per sibling, in a fixed order) are lined up by
//!     length. Paths with a literal in common at the same place, or differing
//!     only where one has a parameter, *correspond*: their traffic must be
//!     alike (else the siblings are apart), and a literal in common is
//!     **structural evidence**. Alike traffic at corresponding places, or at
//!     paths differing in literals only (`sdk` against `core-api`), is weak
//!     evidence, as for their own traffic: collections of look-alike items
//!     (`/catalog/brands/{id}`, `/catalog/categories/{id}`, both
//!     `{id, name, slug}`) show that much. Paths differing in literals only
//!     never separate (`repos` against `members`).
//!
//!   Siblings with evidence and no difference are linked; the largest linked
//!   group (ties: the one seen first) becomes a parameter when it has
//!   - 5 or more members (`MIN_LEAF_SIBLINGS`), whatever the evidence (five
//!     `/docs/intro`, `/docs/setup`... answering alike), or
//!   - a link with structural evidence and 3 or more members (`MIN_VALUES`) after a
//!     literal segment (a collection: `/orgs/initech`, `/orgs/hooper`,
//!     `/orgs/acme`), 3 or more and two thirds of the literal siblings after
//!     a parameter (`MIN_VALUES_AFTER_PARAM`: `/repos/{owner}/{repo}`, where
//!     `/orgs/{org}/repos` and `/members` are usually structure), 5 or more
//!     and two thirds at the root and after `api` or a version
//!     (`MIN_VALUES_TOP`: the first segments are resource names).
//!
//!   After a literal segment, 5 or more words (`MIN_LEAF_SIBLINGS`) of which
//!   some are linked and no two differ are a parameter too, however small
//!   their linked groups: sparse traffic (`/users/ada`, `/users/bob/repos`,
//!   `/users/eve/followers`) leaves values in small groups, but
//!   sub-resources and actions differ from each other.
//!
//!   Where a parameter is already there (identifiers, or words folded
//!   before), it is itself the evidence that the position holds values: a
//!   word joins it when the two are linked; and when the parameter holds
//!   words, the words whose traffic does not differ from it join once they
//!   and the parameter's words together reach the group size above
//!   (`/orgs/lonely/members`, the only org seen with members, next to ten
//!   orgs in `/orgs/{orgId}/repos`). A parameter made only of identifiers
//!   asks for the link. And a lone word is a value when the path
//!   before it is a collection and the word's traffic is that of one item
//!   ([`PathPayload::item_of`]: `POST /cart/items`, then
//!   `DELETE /cart/items/kt-2041-blk`; a `GET` returning an object like the
//!   listed items). Structural words (versions, `me`, `search`, `login`...)
//!   never fold, so `/users/me`, `/auth/login` and `/auth/logout`, `/v1` and
//!   `/v2` stay; the nouns among them (`archive`, `settings`: see
//!   [`NOUN_RESERVED_WORDS`](crate::ident::NOUN_RESERVED_WORDS)) join a
//!   parameter holding 3 or more words when they have structure in common
//!   with it (a bucket named `archive`). Folding merges the siblings'
//!   subtrees; a literal that then sits next to a parameter holding a word
//!   of its name joins the parameter, so routing stays exact. Each fold
//!   frees nodes, so the passes end, and a position compares at most
//!   [`COLLAPSE_LIMIT`] words, so the work is bounded too. Thresholds count
//!   distinct values, never requests, and are the same for every input
//!   size: more traffic gives more evidence, not other rules. `make
//!   eval-build` (`scripts/gen_eval.py`, `scripts/eval_build.py`) measures
//!   the rule on generated APIs with ground truth.
//! - **Bounded memory.** Once a position has seen more than
//!   [`COLLAPSE_LIMIT`] (64) distinct non-structural words, they are folded into
//!   a parameter there and then, and every later word at that position goes
//!   to the parameter. A hundred thousand distinct `/tags/<word>` paths cost
//!   three tree nodes, not a hundred thousand.
//! - **Deterministic.** The result depends only on the sequence of recorded
//!   paths: ties are broken by sorted order or by order of first appearance,
//!   never by hashing.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use hmt_types::percent_decode;
use serde_json::{Value, json};

use crate::ident::{IdKind, classify_id, is_noun_reserved_word, is_reserved_word};

/// How many distinct non-structural words one position may hold as literal
/// paths before they are folded into a parameter while recording.
pub const COLLAPSE_LIMIT: usize = 64;

/// Minimum number of literal siblings whose own traffic looks alike (and
/// nothing below them says otherwise) that become a parameter.
const MIN_LEAF_SIBLINGS: usize = 5;

/// Minimum number of literal siblings sharing structure below them that
/// become a parameter where the segment before them is a literal such as
/// `orgs` or `buckets` (a collection, whose children are usually values).
const MIN_VALUES: usize = 3;

/// The same after a parameter, where segments are usually sub-resources
/// (`/orgs/{org}/repos`, `/orgs/{org}/members`) and values only sometimes
/// (`/repos/{owner}/{repo}`); there the group must also hold two thirds of
/// the non-reserved literal siblings.
const MIN_VALUES_AFTER_PARAM: usize = 3;

/// The same at the root and after `api` or a version, where segments are
/// resource names (`/orgs`, `/users`) and almost never values: more
/// members, and two thirds of the siblings.
const MIN_VALUES_TOP: usize = 5;

/// What the path segment before a position is, which sets how much
/// evidence turns the words at the position into a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Position {
    /// The root, `api`, `rest` or a version.
    Top,
    /// A parameter.
    AfterParam,
    /// Any other literal: a collection such as `orgs` or `buckets`.
    Collection,
}

/// How deep below a sibling, and how many of its descendants, its structure
/// profile looks: enough to see `…/issues/{number}`, bounded so that one
/// comparison costs at most `PROFILE_PATHS²` steps.
const PROFILE_DEPTH: usize = 3;
const PROFILE_PATHS: usize = 48;

/// What a path template carries: the builder's per-path statistics.
pub trait PathPayload: Default {
    /// Fold another path's payload into this one (used when literal siblings
    /// are merged into a template).
    fn merge(&mut self, other: Self);

    /// Whether this literal path's traffic looks like the same kind of
    /// resource as `template`'s (same methods, similar response shape).
    ///
    /// Used to decide if `/pokemon/ditto` belongs to `/pokemon/{pokemonId}`.
    fn resembles(&self, template: &Self) -> bool;

    /// Symmetric comparison of two sibling paths' own traffic, for deciding
    /// whether literal siblings are values of one parameter: `Some(true)`
    /// when the traffic says they are the same kind of resource,
    /// `Some(false)` when it says they differ, `None` when it cannot tell
    /// (for example no method in common).
    ///
    /// The default asks [`resembles`](Self::resembles) both ways.
    fn alike(&self, other: &Self) -> Option<bool> {
        Some(self.resembles(other) && other.resembles(self))
    }

    /// Whether this path's traffic is that of one item of the collection
    /// whose traffic is `collection` (the path one segment up): used when
    /// too few sibling words were recorded to compare them. The default says
    /// no.
    fn item_of(&self, collection: &Self) -> bool {
        let _ = collection;
        false
    }
}

/// The set of value kinds a parameter has seen: the identifier kinds plus
/// "word" for literal segments folded into it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ValueKinds(u8);

impl ValueKinds {
    const WORD: ValueKinds = ValueKinds(1 << 7);

    fn of(kind: IdKind) -> ValueKinds {
        ValueKinds(1 << (kind as u8))
    }

    fn add(&mut self, other: ValueKinds) {
        self.0 |= other.0;
    }

    fn is_only(self, kind: IdKind) -> bool {
        self == ValueKinds::of(kind)
    }
}

/// A parameter of a [`PathTemplate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathParam {
    /// The parameter name used in the template, e.g. `pokemonId`.
    pub name: String,
    /// The first value recorded for the parameter (percent-decoded).
    pub example: String,
    /// Words (not identifiers) that were folded into the parameter,
    /// percent-decoded and sorted; at most 64 are remembered.
    pub words: Vec<String>,
    kinds: ValueKinds,
}

impl PathParam {
    /// OpenAPI schema for the parameter: `{"type":"integer"}` when every value
    /// was an integer, `{"type":"string","format":"uuid"|"date"|"email"}` when
    /// every value was of that kind, else `{"type":"string"}`.
    ///
    /// ```
    /// use hmt_build::paths::{PathPayload, PathTree};
    /// # #[derive(Default)] struct Hits;
    /// # impl PathPayload for Hits {
    /// #     fn merge(&mut self, _: Self) {}
    /// #     fn resembles(&self, _: &Self) -> bool { true }
    /// # }
    /// let mut tree = PathTree::<Hits>::new();
    /// tree.observe("/days/2024-05-01");
    /// let templates = tree.finish();
    /// assert_eq!(
    ///     templates[0].params[0].schema(),
    ///     serde_json::json!({"type": "string", "format": "date"})
    /// );
    /// ```
    pub fn schema(&self) -> Value {
        let format = if self.kinds.is_only(IdKind::Integer) {
            return json!({"type": "integer"});
        } else if self.kinds.is_only(IdKind::Uuid) {
            "uuid"
        } else if self.kinds.is_only(IdKind::Date) {
            "date"
        } else if self.kinds.is_only(IdKind::Email) {
            "email"
        } else {
            return json!({"type": "string"});
        };
        json!({"type": "string", "format": format})
    }
}

/// One final path template with the payload folded from every path it covers.
#[derive(Clone, Debug, PartialEq)]
pub struct PathTemplate<T> {
    /// The OpenAPI path template, e.g. `/v2/pokemon/{pokemonId}/`.
    pub template: String,
    /// The template's parameters, in order of appearance.
    pub params: Vec<PathParam>,
    /// The builder's data for every exchange that landed on this template.
    pub payload: T,
}

type NodeId = usize;

const ROOT: NodeId = 0;

/// A sibling's structure profile: relative paths below it (literal text,
/// `None` for a parameter) and the node each one ends on.
type Profile<'a> = Vec<(Vec<Option<&'a str>>, NodeId)>;

/// A literal child edge.
#[derive(Clone, Copy, Debug)]
struct Lit {
    id: NodeId,
    /// Whether the segment is a structural word that never becomes a parameter.
    reserved: bool,
}

/// What a parameter node knows about the values that landed on it.
#[derive(Debug)]
struct ParamStats {
    example: String,
    example_seq: u64,
    kinds: ValueKinds,
    /// Words (literal keys) whose traffic was folded into this parameter,
    /// up to [`MAX_TRACKED_WORDS`]; `many_words` once there were more. A
    /// merge must never bring such a parameter next to a literal of the
    /// same name, or a router would send that word's requests to the
    /// literal while its traffic sits here.
    words: BTreeSet<Box<str>>,
    many_words: bool,
}

/// How many folded words a parameter remembers before it only remembers
/// that there were many.
const MAX_TRACKED_WORDS: usize = 64;

impl ParamStats {
    fn new(example: String, example_seq: u64) -> ParamStats {
        ParamStats {
            example,
            example_seq,
            kinds: ValueKinds::default(),
            words: BTreeSet::new(),
            many_words: false,
        }
    }

    fn add_word(&mut self, key: &str) {
        if self.many_words || self.words.contains(key) {
            return;
        }
        if self.words.len() >= MAX_TRACKED_WORDS {
            self.words.clear();
            self.many_words = true;
        } else {
            self.words.insert(key.into());
        }
    }

    fn add_words(&mut self, other: &ParamStats) {
        if other.many_words {
            self.words.clear();
            self.many_words = true;
        }
        for word in &other.words {
            self.add_word(word);
        }
    }

    /// Whether a literal among `siblings` has the name of a folded word.
    fn clashes_with(&self, siblings: &BTreeMap<Box<str>, Lit>) -> bool {
        if self.many_words {
            return siblings.values().any(|lit| !lit.reserved);
        }
        self.words.iter().any(|w| siblings.contains_key(w))
    }
}

#[derive(Debug)]
struct Node<T> {
    /// False for slots on the free list.
    live: bool,
    /// Literal children by recorded (encoded) segment text.
    literals: BTreeMap<Box<str>, Lit>,
    /// How many of `literals` are not reserved.
    open: usize,
    /// Set once the non-reserved literals were folded into `param` for
    /// exceeding [`COLLAPSE_LIMIT`]; later words go to `param` directly.
    collapsed: bool,
    param: Option<NodeId>,
    /// `Some` exactly for parameter nodes.
    stats: Option<ParamStats>,
    /// `Some` when some recorded path ended here.
    payload: Option<T>,
    /// Requests with a trailing slash minus requests without one.
    slash: i64,
    /// Sequence number of the first observation that reached this node.
    seq: u64,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            live: false,
            literals: BTreeMap::new(),
            open: 0,
            collapsed: false,
            param: None,
            stats: None,
            payload: None,
            slash: 0,
            seq: 0,
        }
    }
}

/// A streaming fold of concrete request paths into path templates.
///
/// Call [`observe`](PathTree::observe) once per recorded exchange, in input
/// order, and fold the exchange into the payload it returns; call
/// [`finish`](PathTree::finish) at the end for the templates. See the
/// [module documentation](self) for the rules.
///
/// ```
/// use hmt_build::paths::{PathPayload, PathTree};
///
/// /// Counts requests; every path looks like every other.
/// #[derive(Default)]
/// struct Hits(u32);
///
/// impl PathPayload for Hits {
///     fn merge(&mut self, other: Self) {
///         self.0 += other.0;
///     }
///     fn resembles(&self, _template: &Self) -> bool {
///         true
///     }
/// }
///
/// let mut tree = PathTree::<Hits>::new();
/// for path in ["/users/42", "/users/43/", "/users/me", "/users/ada"] {
///     tree.observe(path).0 += 1;
/// }
/// let templates = tree.finish();
/// let names: Vec<&str> = templates.iter().map(|t| t.template.as_str()).collect();
/// assert_eq!(names, ["/users/me", "/users/{userId}"]);
/// assert_eq!(templates[1].payload.0, 3);
/// assert_eq!(templates[1].params[0].example, "42");
/// // `ada` is a word, so the parameter is a plain string.
/// assert_eq!(templates[1].params[0].schema(), serde_json::json!({"type": "string"}));
/// ```
#[derive(Debug)]
pub struct PathTree<T> {
    nodes: Vec<Node<T>>,
    free: Vec<NodeId>,
    seq: u64,
}

impl<T: PathPayload> Default for PathTree<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: PathPayload> PathTree<T> {
    /// An empty tree.
    pub fn new() -> Self {
        let root = Node {
            live: true,
            ..Node::default()
        };
        PathTree {
            nodes: vec![root],
            free: Vec::new(),
            seq: 0,
        }
    }

    /// Records one concrete path and returns the payload of the node it lands
    /// on, for the caller to fold the exchange into.
    ///
    /// Segments already known are looked up without allocating.
    pub fn observe(&mut self, pathname: &str) -> &mut T {
        self.seq += 1;
        let seq = self.seq;
        let path = pathname
            .find(['?', '#'])
            .map_or(pathname, |end| &pathname[..end]);
        let mut id = ROOT;
        let mut depth = 0usize;
        for raw in path.split('/').filter(|s| !s.is_empty()) {
            depth += 1;
            id = self.step(id, raw, seq);
        }
        let node = &mut self.nodes[id];
        if depth > 0 {
            node.slash += if path.ends_with('/') { 1 } else { -1 };
        }
        node.payload.get_or_insert_with(T::default)
    }

    /// Number of live tree nodes, the root included.
    pub fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    /// Merges look-alike siblings and returns the final templates, sorted by
    /// template string.
    pub fn finish(mut self) -> Vec<PathTemplate<T>> {
        // Top-down: a node's siblings are merged before its children are
        // visited, so every merge compares subtrees as they were recorded and
        // a recorded path is still routed (literal before parameter) to the
        // template whose payload holds it.
        //
        // A merge only folds a literal whose subtree matches the parameter's
        // exactly, so words deeper down (`/users/ada/posts/hello`) fold in
        // a later pass, after their own level was merged. Passes repeat
        // until nothing changes; each merge frees nodes, so this ends.
        loop {
            let mut changed = false;
            let mut stack = vec![ROOT];
            while let Some(id) = stack.pop() {
                if !self.nodes[id].live {
                    continue;
                }
                changed |= self.merge_siblings(id);
                let node = &self.nodes[id];
                stack.extend(node.param);
                stack.extend(node.literals.values().rev().map(|l| l.id));
            }
            changed |= self.fold_value_groups();
            if !changed {
                break;
            }
        }
        self.emit()
    }

    /// One bottom-up pass of [`fold_value_group`](Self::fold_value_group)
    /// over every node; returns whether anything was folded.
    ///
    /// Bottom-up, so that the values deeper down are already parameters when
    /// a position is judged: `/orgs/*` and `/users/*` then both hold a
    /// parameter, which is no evidence that `orgs` and `users` are values,
    /// while `/orgs/initech/repos` and `/orgs/hooper/repos` share `repos`.
    fn fold_value_groups(&mut self) -> bool {
        let mut order: Vec<(NodeId, Position)> = Vec::new();
        let mut stack = vec![(ROOT, Position::Top)];
        while let Some((id, position)) = stack.pop() {
            let node = &self.nodes[id];
            if !node.live {
                continue;
            }
            order.push((id, position));
            stack.extend(node.param.map(|p| (p, Position::AfterParam)));
            stack.extend(node.literals.iter().rev().map(|(key, lit)| {
                let position = if is_base_like(&percent_decode(key)) {
                    Position::Top
                } else {
                    Position::Collection
                };
                (lit.id, position)
            }));
        }
        let mut changed = false;
        for (id, position) in order.into_iter().rev() {
            if self.nodes[id].live {
                changed |= self.fold_value_group(id, position);
            }
        }
        changed
    }

    /// Folds the largest group of interchangeable non-reserved literal
    /// children of `id` into a parameter (see the module docs); returns
    /// whether anything was folded. `position` says what `id` is.
    fn fold_value_group(&mut self, id: NodeId, position: Position) -> bool {
        let node = &self.nodes[id];
        let mut members: Vec<(Option<&str>, NodeId)> = node
            .literals
            .iter()
            .filter(|(_, lit)| !lit.reserved)
            .map(|(key, lit)| (Some(key.as_ref()), lit.id))
            .collect();
        let literal_count = members.len();
        // Nouns among the structural words (`archive`, `settings`) come
        // last; they only ever join a parameter that holds several words,
        // and only with structure in common (see below).
        if node.param.is_some() {
            members.extend(
                node.literals
                    .iter()
                    .filter(|(key, lit)| {
                        lit.reserved && is_noun_reserved_word(&percent_decode(key))
                    })
                    .map(|(key, lit)| (Some(key.as_ref()), lit.id)),
            );
        }
        let noun_count = members.len() - literal_count;
        // Where segments are usually names, values must also be most of
        // what is there: `/repos/{owner}/billing-api`, `/website`, `/docs`
        // all alike, against `/orgs`, `/users` and a dozen other resources
        // of which two happen to look alike.
        let majority = (literal_count * 2).div_ceil(3);
        let min_strong = match position {
            Position::Collection => MIN_VALUES,
            Position::AfterParam => MIN_VALUES_AFTER_PARAM.max(majority),
            Position::Top => MIN_VALUES_TOP.max(majority),
        };
        if literal_count + noun_count == 0 {
            return false;
        }
        members.extend(node.param.map(|p| (None, p)));
        let profiles: Vec<Profile<'_>> = members.iter().map(|(_, m)| self.profile(*m)).collect();
        let n = members.len();
        let mut any = UnionFind::new(n);
        // Members with an edge backed by shared structure below them.
        let mut strong: Vec<bool> = vec![false; n];
        // Literals with direct evidence of being like the parameter.
        let mut like_param: Vec<usize> = Vec::new();
        let param_index = node.param.map(|_| n - 1);
        // Literals whose traffic contradicts the parameter's.
        let mut unlike_param: Vec<bool> = vec![false; n];
        // Whether any two words' traffic contradicts each other, and
        // whether any two are linked.
        let mut words_differ = false;
        let mut words_linked = false;
        // Words already folded into the parameter: values seen at this
        // position, counted with the words still literal below.
        let param_words = node
            .param
            .and_then(|p| self.nodes[p].stats.as_ref())
            .map_or(0, |stats| {
                if stats.many_words {
                    MAX_TRACKED_WORDS
                } else {
                    stats.words.len()
                }
            });
        for i in 0..n {
            for j in i + 1..n {
                let own = self.payloads_alike(members[i].1, members[j].1);
                if own == Some(false) {
                    if Some(j) == param_index {
                        unlike_param[i] = true;
                    }
                    if j < literal_count {
                        words_differ = true;
                    }
                    continue;
                }
                // Joining an existing parameter needs the same places
                // below (or alike traffic of its own): `/orgs/acme/members`
                // is not `/orgs/{org}/repos` just because both list things.
                let loose_ok = Some(j) != param_index;
                match self.shares_structure(&profiles[i], &profiles[j], loose_ok) {
                    Some(Below::Differ) => {
                        if Some(j) == param_index {
                            unlike_param[i] = true;
                        }
                        if j < literal_count {
                            words_differ = true;
                        }
                        continue;
                    }
                    Some(Below::Shared) => {
                        strong[i] = true;
                        strong[j] = true;
                    }
                    // A noun joins only with structure in common with a
                    // parameter that holds several words.
                    _ if i >= literal_count => continue,
                    Some(Below::Alike) => {}
                    None if own == Some(true) => {}
                    None => continue,
                }
                any.union(i, j);
                words_linked |= j < literal_count;
                if Some(j) == param_index {
                    like_param.push(i);
                }
            }
        }
        let seq = |i: usize| self.nodes[members[i].1].seq;
        // Words whose own traffic is that of one item of the collection one
        // segment up (`POST /cart/items`, then `DELETE /cart/items/kt-2041`).
        let items_of_collection = || -> Vec<usize> {
            let Some(collection) = &self.nodes[id].payload else {
                return Vec::new();
            };
            if position != Position::Collection {
                return Vec::new();
            }
            (0..literal_count)
                .filter(|&i| {
                    self.nodes[members[i].1]
                        .payload
                        .as_ref()
                        .is_some_and(|p| p.item_of(collection))
                })
                .collect()
        };
        let group: Vec<usize> = if param_index.is_some() {
            // A parameter is already there (identifiers, or words folded
            // before): that is the evidence that this position holds values,
            // so each word whose traffic is like the parameter's, or is that
            // of an item of the collection, joins it.
            let nouns_may_join = param_words >= MIN_VALUES;
            let mut group: Vec<usize> = like_param
                .into_iter()
                .filter(|&i| i < literal_count || nouns_may_join)
                .collect();
            group.extend(items_of_collection());
            // A parameter holding words is a position of values: with the
            // words not contradicting it, enough distinct words in all
            // (folded or not) make every such word join, evidence or not
            // (`/orgs/hollow-maple/members`, the only org seen with members,
            // next to `/orgs/{orgId}/repos` from ten orgs).
            let fitting: Vec<usize> = (0..literal_count).filter(|&i| !unlike_param[i]).collect();
            if param_words > 0 && param_words + fitting.len() >= min_strong {
                group.extend(fitting);
            }
            group.sort_unstable();
            group.dedup();
            group
        } else {
            // A group qualifies with enough members and some structure
            // shared below them, or with many members alike by their own
            // traffic alone (leaves such as `/docs/intro`, `/docs/setup`).
            let mut groups: Vec<Vec<usize>> = any
                .groups()
                .into_iter()
                .filter(|g| {
                    g.len() >= MIN_LEAF_SIBLINGS
                        || (g.len() >= min_strong && g.iter().any(|&i| strong[i]))
                })
                .collect();
            // Largest first; among equals the one seen first: deterministic.
            groups.sort_by_key(|g| (std::cmp::Reverse(g.len()), g.iter().map(|&i| seq(i)).min()));
            match groups.into_iter().next() {
                Some(group) => group,
                // Many words after a collection, some linked and none
                // contradicting another, are values even when sparse traffic
                // left them in small groups (`/users/ada`, `/users/bob/repos`,
                // `/users/eve/followers`...): sub-resources and actions
                // differ from each other, values do not.
                None if position == Position::Collection
                    && literal_count >= MIN_LEAF_SIBLINGS
                    && words_linked
                    && !words_differ =>
                {
                    (0..literal_count).collect()
                }
                // Too few words to compare: a word is still a value when
                // its traffic is that of an item of the collection.
                None => items_of_collection(),
            }
        };
        let mut keys: Vec<(u64, Box<str>)> = group
            .iter()
            .filter_map(|&i| members[i].0.map(|k| (seq(i), Box::from(k))))
            .collect();
        if keys.is_empty() {
            return false;
        }
        keys.sort();
        let keys: Vec<Box<str>> = keys.into_iter().map(|(_, k)| k).collect();
        let Some((param, sources)) = self.detach_into_param(id, keys) else {
            return false;
        };
        self.merge_all(sources.into_iter().map(|s| (param, s)).collect(), false);
        self.repair_clashes(param);
        true
    }

    /// [`PathPayload::alike`] of two nodes' payloads; `None` unless both
    /// have one.
    fn payloads_alike(&self, a: NodeId, b: NodeId) -> Option<bool> {
        match (&self.nodes[a].payload, &self.nodes[b].payload) {
            (Some(a), Some(b)) => a.alike(b),
            _ => None,
        }
    }

    /// What two siblings' profiles say about the structure below them
    /// (`None`: nothing lines up; see [`Below`]). Without `loose_ok`,
    /// loosely lined-up paths are never evidence.
    fn shares_structure(&self, a: &Profile<'_>, b: &Profile<'_>, loose_ok: bool) -> Option<Below> {
        let mut verdict = None;
        for (p, x) in a {
            for (q, y) in b {
                let Some(line_up) = paths_line_up(p, q) else {
                    continue;
                };
                let found = match (line_up, self.payloads_alike(*x, *y)) {
                    (LineUp::Loose, Some(false) | None) => continue,
                    (LineUp::Loose, Some(true)) if !loose_ok => continue,
                    (LineUp::Corresponding { .. }, Some(false)) => return Some(Below::Differ),
                    (LineUp::Corresponding { shared: true }, _) => Below::Shared,
                    (_, Some(true)) => Below::Alike,
                    (LineUp::Corresponding { shared: false }, None) => continue,
                };
                verdict = verdict.max(Some(found));
            }
        }
        verdict
    }

    /// Restores, below `top`, the rule that no parameter sits next to a
    /// literal named like a word folded into it: such a literal joins the
    /// parameter (merging two subtrees can bring `/repos/{repo}` with the
    /// word `billing` next to another side's literal `/repos/billing`).
    fn repair_clashes(&mut self, top: NodeId) {
        let mut stack = vec![top];
        while let Some(id) = stack.pop() {
            if !self.nodes[id].live {
                continue;
            }
            let node = &self.nodes[id];
            if let Some(param) = node.param
                && let Some(stats) = &self.nodes[param].stats
            {
                let keys: Vec<Box<str>> = node
                    .literals
                    .iter()
                    .filter(|(key, lit)| {
                        !lit.reserved && (stats.many_words || stats.words.contains(*key))
                    })
                    .map(|(key, _)| key.clone())
                    .collect();
                if !keys.is_empty()
                    && let Some((param, sources)) = self.detach_into_param(id, keys)
                {
                    self.merge_all(sources.into_iter().map(|s| (param, s)).collect(), false);
                }
            }
            let node = &self.nodes[id];
            if node.live {
                stack.extend(node.param);
                stack.extend(node.literals.values().map(|l| l.id));
            }
        }
    }

    /// The relative paths below `start`, at most [`PROFILE_DEPTH`] segments
    /// deep and [`PROFILE_PATHS`] of them (literal text, `None` for a
    /// parameter), in a fixed order.
    fn profile(&self, start: NodeId) -> Profile<'_> {
        let mut out: Profile<'_> = Vec::new();
        let mut stack: Vec<(NodeId, Vec<Option<&str>>)> = vec![(start, Vec::new())];
        while let Some((id, path)) = stack.pop() {
            if out.len() >= PROFILE_PATHS {
                break;
            }
            let node = &self.nodes[id];
            if path.len() < PROFILE_DEPTH {
                if let Some(param) = node.param {
                    let mut below = path.clone();
                    below.push(None);
                    stack.push((param, below));
                }
                for (key, lit) in node.literals.iter().rev() {
                    let mut below = path.clone();
                    below.push(Some(key.as_ref()));
                    stack.push((lit.id, below));
                }
            }
            if !path.is_empty() {
                out.push((path, id));
            }
        }
        out
    }

    /// Follows (creating if needed) the child of `id` for segment `raw`.
    fn step(&mut self, id: NodeId, raw: &str, seq: u64) -> NodeId {
        let key = escape_braces(raw);
        if let Some(lit) = self.nodes[id].literals.get(key.as_ref()) {
            return lit.id;
        }
        let decoded = percent_decode(raw);
        if let Some(kind) = classify(&decoded) {
            return self.param_value(id, &decoded, seq, ValueKinds::of(kind));
        }
        let reserved = is_reserved_word(&decoded);
        if !reserved && self.nodes[id].collapsed {
            let param = self.param_value(id, &decoded, seq, ValueKinds::WORD);
            if let Some(stats) = &mut self.nodes[param].stats {
                stats.add_word(&key);
            }
            return param;
        }
        let child = self.alloc(seq);
        let node = &mut self.nodes[id];
        node.literals.insert(
            key.into_owned().into_boxed_str(),
            Lit {
                id: child,
                reserved,
            },
        );
        if reserved {
            return child;
        }
        node.open += 1;
        if node.open <= COLLAPSE_LIMIT {
            return child;
        }
        let pairs = self.collapse_pairs(id);
        self.merge_all(pairs, false);
        self.nodes[id].param.unwrap_or(child)
    }

    /// The parameter child of `id` (created with `value` as its example if
    /// missing), with `kinds` added to its value kinds.
    fn param_value(&mut self, id: NodeId, value: &str, seq: u64, kinds: ValueKinds) -> NodeId {
        let param = match self.nodes[id].param {
            Some(param) => param,
            None => {
                let param = self.alloc(seq);
                self.nodes[param].stats = Some(ParamStats::new(value.to_owned(), seq));
                self.nodes[id].param = Some(param);
                param
            }
        };
        self.add_kinds(param, kinds);
        param
    }

    fn add_kinds(&mut self, param: NodeId, kinds: ValueKinds) {
        if let Some(stats) = &mut self.nodes[param].stats {
            stats.kinds.add(kinds);
        }
    }

    fn alloc(&mut self, seq: u64) -> NodeId {
        let node = Node {
            live: true,
            seq,
            ..Node::default()
        };
        match self.free.pop() {
            Some(id) => {
                self.nodes[id] = node;
                id
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        }
    }

    /// Removes the literal children `keys` of `parent` and makes them
    /// parameter values: returns the parameter node and the removed nodes to
    /// merge into it, in order of first appearance. The parameter is the
    /// existing one, or else the earliest of the removed nodes.
    fn detach_into_param(
        &mut self,
        parent: NodeId,
        keys: Vec<Box<str>>,
    ) -> Option<(NodeId, Vec<NodeId>)> {
        let mut removed: Vec<(Box<str>, NodeId)> = Vec::with_capacity(keys.len());
        {
            let node = &mut self.nodes[parent];
            for key in keys {
                if let Some(lit) = node.literals.remove(&key) {
                    if !lit.reserved {
                        node.open = node.open.saturating_sub(1);
                    }
                    removed.push((key, lit.id));
                }
            }
        }
        removed.sort_by_key(|(_, id)| self.nodes[*id].seq);
        let mut removed = removed.into_iter();
        let param = match self.nodes[parent].param {
            Some(param) => param,
            None => {
                let (key, first) = removed.next()?;
                let example_seq = self.nodes[first].seq;
                let mut stats = ParamStats::new(percent_decode(&key).into_owned(), example_seq);
                stats.add_word(&key);
                self.nodes[first].stats = Some(stats);
                self.nodes[parent].param = Some(first);
                first
            }
        };
        self.add_kinds(param, ValueKinds::WORD);
        let removed: Vec<(Box<str>, NodeId)> = removed.collect();
        if let Some(stats) = &mut self.nodes[param].stats {
            for (key, _) in &removed {
                stats.add_word(key);
            }
        }
        Some((param, removed.into_iter().map(|(_, id)| id).collect()))
    }

    /// Folds every non-reserved literal child of `id` into its parameter child
    /// and marks it collapsed; returns the merges still to do.
    fn collapse_pairs(&mut self, id: NodeId) -> Vec<(NodeId, NodeId)> {
        self.nodes[id].collapsed = true;
        let keys: Vec<Box<str>> = self.nodes[id]
            .literals
            .iter()
            .filter(|(_, lit)| !lit.reserved)
            .map(|(key, _)| key.clone())
            .collect();
        match self.detach_into_param(id, keys) {
            Some((param, sources)) => sources.into_iter().map(|s| (param, s)).collect(),
            None => Vec::new(),
        }
    }

    /// Merges each `(dst, src)` subtree pair, src into dst, enforcing the
    /// collapse limit on every node that gained children.
    ///
    /// With `absorb` (sibling merging, after [`compatible`](Self::compatible)
    /// said yes), a non-reserved literal below `src` that `dst` lacks is
    /// folded into `dst`'s parameter child where there is one, rather than
    /// added as a literal. Merges forced by the collapse limit never absorb.
    fn merge_all(&mut self, pairs: Vec<(NodeId, NodeId)>, absorb: bool) {
        let mut pending: Vec<(NodeId, NodeId, bool)> = pairs
            .into_iter()
            .rev()
            .map(|(d, s)| (d, s, absorb))
            .collect();
        let mut touched = Vec::new();
        loop {
            while let Some((dst, src, absorb)) = pending.pop() {
                if dst == src || !self.nodes[dst].live || !self.nodes[src].live {
                    continue;
                }
                let children = self.merge_one(dst, src, absorb);
                pending.extend(children.into_iter().rev().map(|(d, s)| (d, s, absorb)));
                touched.push(dst);
            }
            for id in touched.drain(..) {
                let node = &self.nodes[id];
                if node.live && (node.open > COLLAPSE_LIMIT || (node.collapsed && node.open > 0)) {
                    let pairs = self.collapse_pairs(id);
                    pending.extend(pairs.into_iter().rev().map(|(d, s)| (d, s, false)));
                }
            }
            if pending.is_empty() {
                break;
            }
        }
    }

    /// Merges node `src` into `dst` one level deep, freeing `src`; returns the
    /// child pairs that still need merging.
    fn merge_one(&mut self, dst: NodeId, src: NodeId, absorb: bool) -> Vec<(NodeId, NodeId)> {
        let src_node = std::mem::take(&mut self.nodes[src]);
        self.free.push(src);
        let node = &mut self.nodes[dst];
        if let Some(from) = src_node.payload {
            match &mut node.payload {
                Some(into) => into.merge(from),
                None => node.payload = Some(from),
            }
        }
        node.slash += src_node.slash;
        node.seq = node.seq.min(src_node.seq);
        node.collapsed |= src_node.collapsed;
        if let (Some(into), Some(from)) = (&mut node.stats, src_node.stats) {
            into.kinds.add(from.kinds);
            into.add_words(&from);
            if from.example_seq < into.example_seq {
                into.example = from.example;
                into.example_seq = from.example_seq;
            }
        }
        let mut children = Vec::new();
        let mut absorbed = false;
        let mut absorbed_words = Vec::new();
        for (key, lit) in src_node.literals {
            match (node.literals.get(&key), node.param) {
                (Some(existing), _) => children.push((existing.id, lit.id)),
                (None, Some(param)) if absorb && !lit.reserved => {
                    children.push((param, lit.id));
                    absorbed_words.push(key);
                    absorbed = true;
                }
                (None, _) => {
                    if !lit.reserved {
                        node.open += 1;
                    }
                    node.literals.insert(key, lit);
                }
            }
        }
        match (node.param, src_node.param) {
            (Some(into), Some(from)) => children.push((into, from)),
            (None, from) => node.param = from,
            (Some(_), None) => {}
        }
        if let (true, Some(param)) = (absorbed, node.param) {
            self.add_kinds(param, ValueKinds::WORD);
            if let Some(stats) = &mut self.nodes[param].stats {
                for word in &absorbed_words {
                    stats.add_word(word);
                }
            }
        }
        children
    }

    /// Whether literal subtree `lit` can be folded into parameter subtree
    /// `param`: every path below `lit` exists below `param` (each literal
    /// segment as the same literal, each parameter as a parameter that has
    /// no literal sibling named like a word folded into it), and wherever
    /// `lit`'s side has a payload, `param`'s side has one it resembles.
    ///
    /// Exact structure is what keeps routing stable: after the merge, a
    /// router preferring literals sends every recorded path under `lit` to
    /// the node of `param`'s subtree that now holds its traffic. Words
    /// deeper down get their chance in a later pass of
    /// [`finish`](Self::finish), once their own siblings were merged.
    fn compatible(&self, lit: NodeId, param: NodeId) -> bool {
        let mut stack = vec![(lit, param)];
        while let Some((a, b)) = stack.pop() {
            let (a, b) = (&self.nodes[a], &self.nodes[b]);
            if let Some(pa) = &a.payload {
                match &b.payload {
                    Some(pb) if pa.resembles(pb) => {}
                    _ => return false,
                }
            }
            for (key, la) in &a.literals {
                match b.literals.get(key) {
                    Some(lb) => stack.push((la.id, lb.id)),
                    None => return false,
                }
            }
            match (a.param, b.param) {
                (Some(pa), Some(pb)) => {
                    let clash = |param: NodeId, siblings: &BTreeMap<Box<str>, Lit>| {
                        self.nodes[param]
                            .stats
                            .as_ref()
                            .is_some_and(|stats| stats.clashes_with(siblings))
                    };
                    if clash(pa, &b.literals) || clash(pb, &a.literals) {
                        return false;
                    }
                    stack.push((pa, pb));
                }
                (Some(_), None) => return false,
                (None, _) => {}
            }
        }
        true
    }

    /// Sibling merging at one node; returns whether anything was merged.
    fn merge_siblings(&mut self, id: NodeId) -> bool {
        let node = &self.nodes[id];
        let keys: Vec<Box<str>> = match node.param {
            Some(param) => node
                .literals
                .iter()
                .filter(|(_, lit)| !lit.reserved && self.compatible(lit.id, param))
                .map(|(key, _)| key.clone())
                .collect(),
            // Without a parameter sibling, words become one only as a
            // group: see `fold_value_group`.
            None => return false,
        };
        if keys.is_empty() {
            return false;
        }
        match self.detach_into_param(id, keys) {
            Some((param, sources)) => {
                self.merge_all(sources.into_iter().map(|s| (param, s)).collect(), true);
                true
            }
            None => false,
        }
    }

    /// Walks the finished tree and builds the sorted templates.
    fn emit(mut self) -> Vec<PathTemplate<T>> {
        enum Seg {
            Lit(Box<str>),
            Param(NodeId),
        }
        let mut found: Vec<(String, Vec<PathParam>, NodeId)> = Vec::new();
        let mut segs: Vec<Seg> = Vec::new();
        let mut stack: Vec<(NodeId, usize, Option<Seg>)> = vec![(ROOT, 0, None)];
        while let Some((id, depth, seg)) = stack.pop() {
            segs.truncate(depth);
            segs.extend(seg);
            let node = &self.nodes[id];
            if node.payload.is_some() {
                let mut template = String::new();
                let mut params: Vec<PathParam> = Vec::new();
                for (i, seg) in segs.iter().enumerate() {
                    template.push('/');
                    match seg {
                        Seg::Lit(text) => template.push_str(text),
                        Seg::Param(param) => {
                            let previous = match i.checked_sub(1).and_then(|j| segs.get(j)) {
                                Some(Seg::Lit(text)) => Some(text.as_ref()),
                                _ => None,
                            };
                            let base = previous.map_or_else(|| "id".to_owned(), param_name);
                            let name = unique_name(base, &params);
                            template.push('{');
                            template.push_str(&name);
                            template.push('}');
                            let (example, kinds, words) = match &self.nodes[*param].stats {
                                Some(stats) => (
                                    stats.example.clone(),
                                    stats.kinds,
                                    stats
                                        .words
                                        .iter()
                                        .map(|w| percent_decode(w).into_owned())
                                        .collect(),
                                ),
                                None => (String::new(), ValueKinds::default(), Vec::new()),
                            };
                            params.push(PathParam {
                                name,
                                example,
                                words,
                                kinds,
                            });
                        }
                    }
                }
                if segs.is_empty() || node.slash > 0 {
                    template.push('/');
                }
                found.push((template, params, id));
            }
            let depth = segs.len();
            stack.extend(
                node.literals
                    .iter()
                    .map(|(key, lit)| (lit.id, depth, Some(Seg::Lit(key.clone())))),
            );
            stack.extend(node.param.map(|p| (p, depth, Some(Seg::Param(p)))));
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
            .into_iter()
            .map(|(template, params, id)| PathTemplate {
                template,
                params,
                payload: self.nodes[id].payload.take().unwrap_or_default(),
            })
            .collect()
    }
}

/// What the structure below two siblings says about them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Below {
    /// Only alike traffic at places that line up through parameters or
    /// differing literals (`{issue}` against `{issue}`, `sdk` against
    /// `core-api`): what any two collections of look-alike items show
    /// (`/catalog/brands/{id}` and `/catalog/categories/{id}` both hold
    /// `{id, name, slug}` objects), so weak evidence.
    Alike,
    /// A literal in common at the same place, with no traffic that differs
    /// (`initech/repos` and `hooper/repos`): structural evidence.
    Shared,
    /// Traffic that differs at corresponding places.
    Differ,
}

/// How two relative paths below two siblings line up (see
/// [`paths_line_up`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineUp {
    /// The same place in both subtrees: wherever the paths differ, one of
    /// them has a parameter (`{repo}/pulls` against `website/pulls`), or
    /// they have a literal in common (`billing-api/pulls` against
    /// `website/pulls`, `shared`). Their traffic must be alike.
    Corresponding { shared: bool },
    /// Different literals at some place and none in common (`sdk` against
    /// `core-api`, but also `repos` against `members`): evidence only if
    /// their traffic is alike, and no contradiction if it is not.
    Loose,
}

/// How two relative paths below two siblings line up; `None` when their
/// lengths differ.
fn paths_line_up(p: &[Option<&str>], q: &[Option<&str>]) -> Option<LineUp> {
    if p.len() != q.len() {
        return None;
    }
    let mut shared = false;
    let mut differ = false;
    for (x, y) in p.iter().zip(q) {
        if let (Some(x), Some(y)) = (x, y) {
            if x == y {
                shared = true;
            } else {
                differ = true;
            }
        }
    }
    Some(if shared || !differ {
        LineUp::Corresponding { shared }
    } else {
        LineUp::Loose
    })
}

/// Union-find over `0..n`, for grouping siblings that are alike.
struct UnionFind(Vec<usize>);

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind((0..n).collect())
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        // The smaller index is the root: the result does not depend on the
        // order of unions.
        let (low, high) = if a < b { (a, b) } else { (b, a) };
        self.0[high] = low;
    }

    /// The groups, each sorted, in order of their smallest member.
    fn groups(&mut self) -> Vec<Vec<usize>> {
        let mut by_root: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..self.0.len() {
            let root = self.find(i);
            by_root.entry(root).or_default().push(i);
        }
        by_root.into_values().collect()
    }
}

/// Longest common leading run of "base-like" literal segments shared by all
/// templates, such as `/v2` or `/api/v1`; `""` if there is none.
///
/// Base-like segments are `api`, `apis`, `rest` and versions (`v1`, `v2beta`,
/// `v1.1`). The result is never the whole of any template: at least one
/// segment of each template remains after it.
///
/// ```
/// use hmt_build::paths::{common_base_path, PathPayload, PathTree};
/// # #[derive(Default)] struct Hits;
/// # impl PathPayload for Hits {
/// #     fn merge(&mut self, _: Self) {}
/// #     fn resembles(&self, _: &Self) -> bool { true }
/// # }
/// let mut tree = PathTree::<Hits>::new();
/// tree.observe("/api/v1/users/1");
/// tree.observe("/api/v1/health");
/// assert_eq!(common_base_path(&tree.finish()), "/api/v1");
/// ```
pub fn common_base_path<T>(templates: &[PathTemplate<T>]) -> String {
    fn split(template: &str) -> Vec<&str> {
        template.split('/').filter(|s| !s.is_empty()).collect()
    }
    let Some(first) = templates.first() else {
        return String::new();
    };
    let first = split(&first.template);
    let mut len = first
        .iter()
        .take_while(|seg| !seg.starts_with('{') && is_base_like(seg))
        .count();
    for template in templates {
        let segs = split(&template.template);
        let shared = first
            .iter()
            .zip(&segs)
            .take(len)
            .take_while(|(a, b)| a == b)
            .count();
        len = shared.min(segs.len().saturating_sub(1));
        if len == 0 {
            return String::new();
        }
    }
    first[..len].iter().fold(String::new(), |mut base, seg| {
        base.push('/');
        base.push_str(seg);
        base
    })
}

/// `api`, `apis`, `rest` or a version segment: structure, never a resource.
pub(crate) fn is_base_like(segment: &str) -> bool {
    ["api", "apis", "rest"]
        .iter()
        .any(|w| segment.eq_ignore_ascii_case(w))
        || crate::ident::is_version(segment)
}

/// [`classify_id`] with a non-allocating fast path for plain integers.
fn classify(segment: &str) -> Option<IdKind> {
    let digits = segment.strip_prefix('-').unwrap_or(segment);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some(IdKind::Integer);
    }
    classify_id(segment)
}

/// Writes `{` and `}` percent-encoded so that literal text never looks like a
/// template parameter.
pub(crate) fn escape_braces(raw: &str) -> Cow<'_, str> {
    if raw.contains(['{', '}']) {
        Cow::Owned(raw.replace('{', "%7B").replace('}', "%7D"))
    } else {
        Cow::Borrowed(raw)
    }
}

/// `base`, or `base2`, `base3`, ... whichever is not yet taken in `params`.
fn unique_name(base: String, params: &[PathParam]) -> String {
    let taken = |name: &str| params.iter().any(|p| p.name == name);
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}{n}"))
        .find(|name| !taken(name))
        .unwrap_or(base)
}

/// The parameter name for a parameter that follows the literal segment
/// `literal` (as recorded): singular camel case plus `Id`, or `id`.
fn param_name(literal: &str) -> String {
    let decoded = percent_decode(literal);
    if is_base_like(&decoded) {
        return "id".to_owned();
    }
    let mut words: Vec<String> = decoded
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let upper = w.bytes().all(|b| !b.is_ascii_lowercase());
            if upper {
                w.to_ascii_lowercase()
            } else {
                w.to_owned()
            }
        })
        .collect();
    if let Some(last) = words.last_mut() {
        *last = singularize(last);
    }
    let mut name = String::new();
    for (i, word) in words.iter().enumerate() {
        let mut chars = word.chars();
        if let Some(c) = chars.next() {
            if i == 0 {
                name.push(c.to_ascii_lowercase());
            } else {
                name.push(c.to_ascii_uppercase());
            }
            name.push_str(chars.as_str());
        }
    }
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return "id".to_owned();
    }
    name.push_str("Id");
    name
}

/// Plurals that the suffix rules below get wrong, and their singulars.
const IRREGULAR: &[(&str, &str)] = &[
    ("aliases", "alias"),
    ("analyses", "analysis"),
    ("caches", "cache"),
    ("calories", "calorie"),
    ("children", "child"),
    ("cookies", "cookie"),
    ("criteria", "criterion"),
    ("echoes", "echo"),
    ("feet", "foot"),
    ("geese", "goose"),
    ("halves", "half"),
    ("heroes", "hero"),
    ("indices", "index"),
    ("knives", "knife"),
    ("leaves", "leaf"),
    ("lives", "life"),
    ("matrices", "matrix"),
    ("men", "man"),
    ("mice", "mouse"),
    ("movies", "movie"),
    ("niches", "niche"),
    ("people", "person"),
    ("potatoes", "potato"),
    ("selfies", "selfie"),
    ("shelves", "shelf"),
    ("teeth", "tooth"),
    ("tomatoes", "tomato"),
    ("vertices", "vertex"),
    ("wives", "wife"),
    ("wolves", "wolf"),
    ("women", "woman"),
    ("zombies", "zombie"),
];

/// Words ending in `s` that are already singular (or uncountable).
const UNCHANGED: &[&str] = &[
    "alias", "atlas", "canvas", "chassis", "gas", "lens", "news", "series", "species",
];

/// A best-effort English singular of an ASCII word; unknown words are left
/// alone. Case is kept except for irregular replacements.
pub(crate) fn singularize(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    if let Some((_, singular)) = IRREGULAR.iter().find(|(plural, _)| *plural == lower) {
        return (*singular).to_owned();
    }
    if word.len() <= 2 || UNCHANGED.contains(&lower.as_str()) {
        return word.to_owned();
    }
    let strip = |n: usize| word[..word.len() - n].to_owned();
    let ends = |suffix: &str| lower.ends_with(suffix);
    let before_uses = lower
        .len()
        .checked_sub(5)
        .and_then(|i| lower.as_bytes().get(i));
    if ends("ies") && word.len() > 4 {
        format!("{}y", &word[..word.len() - 3])
    } else if ends("sses") || ends("xes") || ends("ches") || ends("shes") || ends("zzes") {
        strip(2)
    } else if ends("uses") {
        // statuses, bonuses, buses; but houses, causes.
        match before_uses {
            Some(c) if b"aeiou".contains(c) => strip(1),
            _ => strip(2),
        }
    } else if ends("ss") || ends("us") || ends("is") || !ends("s") {
        word.to_owned()
    } else {
        strip(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Counts observations; paths resemble each other when their shapes match.
    #[derive(Clone, Debug, Default, PartialEq)]
    struct Stats {
        count: u32,
        shape: String,
    }

    impl PathPayload for Stats {
        fn merge(&mut self, other: Self) {
            self.count += other.count;
            if self.shape.is_empty() {
                self.shape = other.shape;
            }
        }

        fn resembles(&self, template: &Self) -> bool {
            self.shape == template.shape
        }
    }

    fn observe_all<'a>(
        tree: &mut PathTree<Stats>,
        paths: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        for (path, shape) in paths {
            let stats = tree.observe(path);
            stats.count += 1;
            if stats.shape.is_empty() {
                stats.shape = shape.to_owned();
            }
        }
    }

    fn build(paths: &[(&str, &str)]) -> Vec<PathTemplate<Stats>> {
        let mut tree = PathTree::new();
        observe_all(&mut tree, paths.iter().copied());
        tree.finish()
    }

    /// Every path with the same shape.
    fn build_alike(paths: &[&str]) -> Vec<PathTemplate<Stats>> {
        let with_shape: Vec<(&str, &str)> = paths.iter().map(|p| (*p, "same")).collect();
        build(&with_shape)
    }

    fn names(templates: &[PathTemplate<Stats>]) -> Vec<&str> {
        templates.iter().map(|t| t.template.as_str()).collect()
    }

    fn find<'a>(templates: &'a [PathTemplate<Stats>], name: &str) -> &'a PathTemplate<Stats> {
        templates
            .iter()
            .find(|t| t.template == name)
            .unwrap_or_else(|| panic!("no template {name} in {:?}", names(templates)))
    }

    #[test]
    fn integer_ids() {
        let t = build_alike(&["/users/42", "/users/43"]);
        assert_eq!(names(&t), ["/users/{userId}"]);
        let param = &t[0].params[0];
        assert_eq!(param.name, "userId");
        assert_eq!(param.example, "42");
        assert_eq!(param.schema(), json!({"type": "integer"}));
        assert_eq!(t[0].payload.count, 2);
    }

    #[test]
    fn pokeapi() {
        let t = build(&[
            ("/v2/pokemon/ditto/", "pokemon"),
            ("/v2/pokemon/pikachu/", "pokemon"),
            ("/v2/pokemon/charmander/", "pokemon"),
            ("/v2/pokemon/doesnotexist/", "pokemon"),
            ("/v2/pokemon/77", "pokemon"),
            ("/v2/type/1/", "type"),
            ("/v2/type/2/", "type"),
            ("/v2/type/3/", "type"),
            ("/v2/type/777/", "type"),
            ("/v2/ability/4/", "ability"),
            ("/v2/ability/2/", "ability"),
            ("/v2/ability/10/", "ability"),
            ("/v2/ability/888/", "ability"),
            ("/v2/pokemon/", "list"),
        ]);
        assert_eq!(
            names(&t),
            [
                "/v2/ability/{abilityId}/",
                "/v2/pokemon/",
                "/v2/pokemon/{pokemonId}/",
                "/v2/type/{typeId}/",
            ]
        );
        let pokemon = find(&t, "/v2/pokemon/{pokemonId}/");
        assert_eq!(pokemon.params[0].name, "pokemonId");
        assert_eq!(pokemon.params[0].example, "77");
        assert_eq!(pokemon.params[0].schema(), json!({"type": "string"}));
        assert_eq!(pokemon.payload.count, 5);
        let ty = find(&t, "/v2/type/{typeId}/");
        assert_eq!(ty.params[0].schema(), json!({"type": "integer"}));
        assert_eq!(ty.params[0].example, "1");
        assert_eq!(find(&t, "/v2/pokemon/").payload.shape, "list");
        assert_eq!(common_base_path(&t), "/v2");
    }

    #[test]
    fn unlike_literal_stays() {
        let t = build(&[
            ("/v2/pokemon/77", "pokemon"),
            ("/v2/pokemon/ditto", "pokemon"),
            ("/v2/pokemon/random", "something-else"),
        ]);
        assert_eq!(names(&t), ["/v2/pokemon/random", "/v2/pokemon/{pokemonId}"]);
    }

    #[test]
    fn actions_stay_literal() {
        let t = build_alike(&["/v1/payments/initiate", "/v1/payments/confirm"]);
        assert_eq!(names(&t), ["/v1/payments/confirm", "/v1/payments/initiate"]);

        let t = build_alike(&[
            "/payments/pay_1a2b3c/refund",
            "/payments/pay_9z8y7x/capture",
        ]);
        assert_eq!(
            names(&t),
            [
                "/payments/{paymentId}/capture",
                "/payments/{paymentId}/refund"
            ]
        );
        assert_eq!(t[0].params[0].example, "pay_1a2b3c");
        assert_eq!(t[1].params[0].example, "pay_1a2b3c");

        let t = build_alike(&["/auth/login", "/auth/logout"]);
        assert_eq!(names(&t), ["/auth/login", "/auth/logout"]);
    }

    #[test]
    fn me_stays_literal() {
        let t = build_alike(&["/users/1", "/users/me", "/users/2"]);
        assert_eq!(names(&t), ["/users/me", "/users/{userId}"]);
        assert_eq!(t[1].params[0].schema(), json!({"type": "integer"}));
    }

    #[test]
    fn nested_params() {
        let t = build_alike(&["/orgs/acme/repos/123"]);
        assert_eq!(names(&t), ["/orgs/acme/repos/{repoId}"]);

        let t = build_alike(&["/orgs/42/repos/123", "/orgs/7/repos/9"]);
        assert_eq!(names(&t), ["/orgs/{orgId}/repos/{repoId}"]);

        // A literal org whose subtree matches the parameter's is folded in...
        let t = build_alike(&["/orgs/42/repos/123", "/orgs/acme/repos/9"]);
        assert_eq!(names(&t), ["/orgs/{orgId}/repos/{repoId}"]);
        assert_eq!(t[0].params[0].schema(), json!({"type": "string"}));
        assert_eq!(t[0].params[0].example, "42");

        // ...unless its traffic differs or its paths do not exist below the parameter.
        let t = build(&[("/orgs/42/repos/123", "repo"), ("/orgs/acme/repos/9", "x")]);
        assert_eq!(
            names(&t),
            ["/orgs/acme/repos/{repoId}", "/orgs/{orgId}/repos/{repoId}"]
        );
        let t = build_alike(&["/orgs/42/repos/123", "/orgs/acme/members/9"]);
        assert_eq!(
            names(&t),
            [
                "/orgs/acme/members/{memberId}",
                "/orgs/{orgId}/repos/{repoId}"
            ]
        );

        let t = build_alike(&["/users/1/friends/2"]);
        assert_eq!(names(&t), ["/users/{userId}/friends/{friendId}"]);
        let t = build_alike(&["/a/1/2"]);
        assert_eq!(names(&t), ["/a/{aId}/{id}"]);
        let t = build_alike(&["/1/2/3"]);
        assert_eq!(names(&t), ["/{id}/{id2}/{id3}"]);
        let t = build_alike(&["/api/v1/7", "/api/v1/8/users/9/users/10"]);
        assert_eq!(
            names(&t),
            [
                "/api/v1/{id}",
                "/api/v1/{id}/users/{userId}/users/{userId2}"
            ]
        );
        assert_eq!(common_base_path(&t), "/api/v1");
    }

    #[test]
    fn param_names() {
        for (literal, name) in [
            ("users", "userId"),
            ("pokemon", "pokemonId"),
            ("categories", "categoryId"),
            ("addresses", "addressId"),
            ("payment-methods", "paymentMethodId"),
            ("payment_methods", "paymentMethodId"),
            ("paymentMethods", "paymentMethodId"),
            ("boxes", "boxId"),
            ("statuses", "statusId"),
            ("people", "personId"),
            ("data", "dataId"),
            ("houses", "houseId"),
            ("matches", "matchId"),
            ("caches", "cacheId"),
            ("movies", "movieId"),
            ("ties", "tieId"),
            ("address", "addressId"),
            ("type", "typeId"),
            ("ability", "abilityId"),
            ("USERS", "userId"),
            ("Line%20Items", "lineItemId"),
            ("a", "aId"),
            ("v1", "id"),
            ("api", "id"),
            ("3d", "id"),
            ("%E2%9C%93", "id"),
        ] {
            assert_eq!(param_name(literal), name, "{literal}");
        }
    }

    #[test]
    fn many_words_collapse() {
        let mut tree = PathTree::new();
        for i in 0..100_000u32 {
            let mut word = String::from("tag");
            let mut n = i;
            loop {
                word.push(char::from(b'a' + (n % 26) as u8));
                n /= 26;
                if n == 0 {
                    break;
                }
            }
            let stats: &mut Stats = tree.observe(&format!("/tags/{word}"));
            stats.count += 1;
            stats.shape = "tag".into();
            assert!(tree.node_count() < 100, "{} nodes", tree.node_count());
        }
        let t = tree.finish();
        assert_eq!(names(&t), ["/tags/{tagId}"]);
        assert_eq!(t[0].payload.count, 100_000);
        assert_eq!(t[0].params[0].example, "taga");
        assert_eq!(t[0].params[0].schema(), json!({"type": "string"}));
    }

    #[test]
    fn collapse_limit_boundary() {
        let words: Vec<String> = (0..=COLLAPSE_LIMIT)
            .map(|i| format!("w{}x", "a".repeat(i)))
            .collect();
        // Distinct shapes: nothing resembles, so only the limit can fold them.
        let paths: Vec<(String, String)> = words
            .iter()
            .map(|w| (format!("/things/{w}/detail"), w.clone()))
            .collect();
        let mut tree = PathTree::new();
        observe_all(
            &mut tree,
            paths[..COLLAPSE_LIMIT]
                .iter()
                .map(|(p, s)| (p.as_str(), s.as_str())),
        );
        observe_all(&mut tree, [("/things/search", "search")]);
        let before = tree.node_count();
        assert_eq!(before, 2 + 2 * COLLAPSE_LIMIT + 1);
        let (p, s) = &paths[COLLAPSE_LIMIT];
        observe_all(&mut tree, [(p.as_str(), s.as_str())]);
        assert_eq!(tree.node_count(), 5);
        observe_all(&mut tree, [("/things/another/detail", "x")]);
        assert_eq!(tree.node_count(), 5);
        let t = tree.finish();
        assert_eq!(names(&t), ["/things/search", "/things/{thingId}/detail"]);
        assert_eq!(t[1].payload.count, COLLAPSE_LIMIT as u32 + 2);
        assert_eq!(t[1].params[0].example, words[0]);
    }

    #[test]
    fn collapse_merges_nested_subtrees() {
        let mut tree = PathTree::new();
        for i in 0..200u32 {
            let word: String = format!("r{}", "z".repeat(i as usize));
            observe_all(
                &mut tree,
                [(format!("/repos/{word}/issues/{i}").as_str(), "x")],
            );
            observe_all(&mut tree, [(format!("/repos/{word}/pulls").as_str(), "y")]);
        }
        assert!(tree.node_count() < 20, "{}", tree.node_count());
        let t = tree.finish();
        assert_eq!(
            names(&t),
            ["/repos/{repoId}/issues/{issueId}", "/repos/{repoId}/pulls"]
        );
        assert_eq!(t[0].payload.count, 200);
        assert_eq!(t[0].params[1].schema(), json!({"type": "integer"}));
    }

    #[test]
    fn words_with_shared_structure_become_a_parameter() {
        // No identifier anywhere: only the structure below the org names
        // (and their alike traffic) says they are values.
        let t = build(&[
            ("/orgs/initech/repos", "repos"),
            ("/orgs/hooper-labs/members", "members"),
            ("/orgs/acme/repos", "repos"),
            ("/orgs/acme/members", "members"),
            ("/orgs/initech", "org"),
            ("/orgs/globex", "org"),
        ]);
        assert_eq!(
            names(&t),
            [
                "/orgs/{orgId}",
                "/orgs/{orgId}/members",
                "/orgs/{orgId}/repos"
            ]
        );
        assert_eq!(find(&t, "/orgs/{orgId}/repos").payload.count, 2);
        assert_eq!(t[0].params[0].schema(), json!({"type": "string"}));
        assert_eq!(t[0].params[0].example, "initech");
        assert_eq!(
            t[0].params[0].words,
            ["acme", "globex", "hooper-labs", "initech"]
        );

        // Two of them are not enough evidence: they stay literal.
        let t = build(&[
            ("/orgs/initech/repos", "repos"),
            ("/orgs/acme/repos", "repos"),
        ]);
        assert_eq!(names(&t), ["/orgs/acme/repos", "/orgs/initech/repos"]);
    }

    #[test]
    fn structural_siblings_stay_literal() {
        // Sub-resources after a parameter answer differently.
        let t = build(&[
            ("/orgs/1/repos", "repos"),
            ("/orgs/2/members", "members"),
            ("/orgs/3/teams", "teams"),
            ("/orgs/4/hooks", "hooks"),
            ("/orgs/5/projects", "projects"),
        ]);
        assert_eq!(t.len(), 5, "{:?}", names(&t));
        // Leaves after a literal with different traffic.
        let t = build(&[
            ("/settings/profile", "profile"),
            ("/settings/notifications", "notifications"),
            ("/settings/security", "security"),
        ]);
        assert_eq!(t.len(), 3);
        // Resources at the root, even with alike items below them: a
        // handful of names there is structure, not values.
        let t = build_alike(&["/orgs/1", "/users/2", "/teams/3", "/gists/4"]);
        assert_eq!(
            names(&t),
            [
                "/gists/{gistId}",
                "/orgs/{orgId}",
                "/teams/{teamId}",
                "/users/{userId}"
            ]
        );
        let t = build_alike(&["/auth/login", "/auth/logout", "/v1/a", "/v2/a"]);
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn collections_of_look_alike_items_stay_apart() {
        // Three resource collections whose items share most keys are still
        // three resources: alike items below a parameter are weak evidence.
        let t = build_alike(&[
            "/catalog/brands/1",
            "/catalog/categories/2",
            "/catalog/tags/3",
        ]);
        assert_eq!(
            names(&t),
            [
                "/catalog/brands/{brandId}",
                "/catalog/categories/{categoryId}",
                "/catalog/tags/{tagId}"
            ]
        );
    }

    #[test]
    fn many_uncontradicted_words_are_values() {
        let users = [
            ("/users/ada", "user"),
            ("/users/bob", "user"),
            ("/users/cy", "user"),
            ("/users/dee/repos", "repos"),
            ("/users/eve/repos", "repos"),
            ("/users/fay/followers", "followers"),
        ];
        let t = build(&users);
        assert_eq!(
            names(&t),
            [
                "/users/{userId}",
                "/users/{userId}/followers",
                "/users/{userId}/repos"
            ]
        );
        // One word whose traffic differs from another's keeps them apart.
        let mut differing = users.to_vec();
        differing.push(("/users/gus", "something-else"));
        assert_eq!(build(&differing).len(), 7);
    }

    #[test]
    fn two_word_parameters_in_a_row() {
        let t = build(&[
            ("/repos/initech/billing-api/pulls", "pulls"),
            ("/repos/initech/ledger/pulls", "pulls"),
            ("/repos/hooper/website/pulls", "pulls"),
            ("/repos/acme/docs/pulls", "pulls"),
            ("/repos/acme/docs", "repo"),
            ("/repos/hooper/cli", "repo"),
        ]);
        assert_eq!(
            names(&t),
            ["/repos/{repoId}/{id}", "/repos/{repoId}/{id}/pulls"]
        );
        assert_eq!(t[1].payload.count, 4);
    }

    #[test]
    fn established_parameter_takes_unseen_words() {
        // Ten orgs made `{orgId}` a position of values; the one org seen
        // only with `members` joins it, as its traffic does not differ.
        let mut paths: Vec<(String, &str)> = (0..10)
            .map(|i| (format!("/orgs/org{}x/repos", "q".repeat(i)), "repos"))
            .collect();
        paths.push(("/orgs/lonely/members".into(), "members"));
        let refs: Vec<(&str, &str)> = paths.iter().map(|(p, s)| (p.as_str(), *s)).collect();
        let t = build(&refs);
        assert_eq!(names(&t), ["/orgs/{orgId}/members", "/orgs/{orgId}/repos"]);
    }

    #[test]
    fn nouns_among_structural_words_can_be_values() {
        // A bucket named `archive` has the structure of the other buckets.
        let t = build_alike(&[
            "/buckets/assets/files/1",
            "/buckets/media/files/2",
            "/buckets/logs/files/3",
            "/buckets/archive/files/4",
        ]);
        assert_eq!(names(&t), ["/buckets/{bucketId}/files/{fileId}"]);
        // `me` is never a value, however alike its traffic; nor is a noun
        // without structure in common.
        let t = build_alike(&[
            "/users/alice/repos",
            "/users/bob/repos",
            "/users/carol/repos",
            "/users/me/repos",
            "/users/settings",
        ]);
        assert_eq!(
            names(&t),
            [
                "/users/me/repos",
                "/users/settings",
                "/users/{userId}/repos"
            ]
        );
    }

    #[test]
    fn leaf_siblings_without_param() {
        let docs = ["/docs/intro", "/docs/setup", "/docs/usage", "/docs/faq"];
        let t = build_alike(&docs);
        assert_eq!(t.len(), 4);

        let mut five = docs.to_vec();
        five.push("/docs/changelog");
        five.push("/docs/search");
        let t = build_alike(&five);
        assert_eq!(names(&t), ["/docs/search", "/docs/{docId}"]);
        assert_eq!(t[1].params[0].example, "intro");
        assert_eq!(t[1].payload.count, 5);

        // A word whose traffic differs keeps its own template; the five
        // alike ones still fold (the traffic says only `zzz` is different).
        let mut unlike: Vec<(&str, &str)> = five.iter().map(|p| (*p, "doc")).collect();
        unlike.push(("/docs/zzz", "other"));
        let t = build(&unlike);
        assert_eq!(names(&t), ["/docs/search", "/docs/zzz", "/docs/{docId}"]);
    }

    #[test]
    fn trailing_slash_majority() {
        let t = build_alike(&["/a/", "/a", "/a/"]);
        assert_eq!(names(&t), ["/a/"]);
        let t = build_alike(&["/a/", "/a"]);
        assert_eq!(names(&t), ["/a"]);
        let t = build_alike(&["/", "", "//"]);
        assert_eq!(names(&t), ["/"]);
        assert_eq!(t[0].payload.count, 3);
        let t = build_alike(&["//a//b/?x=1", "/a/b#frag"]);
        assert_eq!(names(&t), ["/a/b"]);
    }

    #[test]
    fn percent_encoding() {
        let t = build(&[
            ("/files/%34%32", "file"),
            ("/files/hello%20world", "greeting"),
            ("/files/%7Bx%7D", "braces"),
            ("/x/{y}", "braces"),
        ]);
        assert_eq!(
            names(&t),
            [
                "/files/%7Bx%7D",
                "/files/hello%20world",
                "/files/{fileId}",
                "/x/%7By%7D"
            ]
        );
        assert_eq!(t[2].params[0].example, "42");
        assert_eq!(t[2].params[0].schema(), json!({"type": "integer"}));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }

    #[test]
    fn schema_formats() {
        let t = build_alike(&[
            "/u/123e4567-e89b-12d3-a456-426614174000",
            "/u/00000000-0000-0000-0000-000000000000",
            "/d/2024-05-01",
            "/e/ada@example.com",
            "/m/1",
            "/m/2024-05-01",
        ]);
        assert_eq!(
            find(&t, "/u/{uId}").params[0].schema(),
            json!({"type": "string", "format": "uuid"})
        );
        assert_eq!(
            find(&t, "/d/{dId}").params[0].schema(),
            json!({"type": "string", "format": "date"})
        );
        assert_eq!(
            find(&t, "/e/{eId}").params[0].schema(),
            json!({"type": "string", "format": "email"})
        );
        assert_eq!(
            find(&t, "/m/{mId}").params[0].schema(),
            json!({"type": "string"})
        );
    }

    #[test]
    fn base_path() {
        let t = build_alike(&["/v2/"]);
        assert_eq!(common_base_path(&t), "");
        let t = build_alike(&["/api/v1/a", "/api/v2/b"]);
        assert_eq!(common_base_path(&t), "/api");
        let t = build_alike(&["/api/v1/a", "/"]);
        assert_eq!(common_base_path(&t), "");
        let t = build_alike(&["/users/1"]);
        assert_eq!(common_base_path(&t), "");
        assert_eq!(common_base_path::<Stats>(&[]), "");
    }

    #[test]
    fn deterministic() {
        let paths = [
            ("/v2/pokemon/ditto/", "p"),
            ("/v2/pokemon/1", "p"),
            ("/x/a", "a"),
            ("/x/b", "a"),
            ("/x/c", "a"),
            ("/x/d", "a"),
            ("/x/e", "a"),
            ("/users/u_123/me", "m"),
        ];
        assert_eq!(build(&paths), build(&paths));
    }

    /// Remembers which concrete paths landed on a template.
    #[derive(Clone, Debug, Default, PartialEq)]
    struct Seen {
        shape: String,
        paths: BTreeSet<String>,
    }

    impl PathPayload for Seen {
        fn merge(&mut self, other: Self) {
            self.paths.extend(other.paths);
            if self.shape.is_empty() {
                self.shape = other.shape;
            }
        }

        fn resembles(&self, template: &Self) -> bool {
            self.shape == template.shape
        }
    }

    /// The templates a router with literal-over-parameter precedence reaches
    /// for `path`: at each segment it takes the literal if any template has it
    /// there, else the parameter. For the templates `PathTree` emits this is
    /// the most specific template matching the path segment by segment.
    fn route<'a, P>(templates: &'a [PathTemplate<P>], path: &str) -> Vec<&'a str> {
        let path = path.find(['?', '#']).map_or(path, |end| &path[..end]);
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| escape_braces(s).into_owned())
            .collect();
        let split: Vec<(&str, Vec<&str>)> = templates
            .iter()
            .map(|t| {
                let segs = t.template.split('/').filter(|s| !s.is_empty()).collect();
                (t.template.as_str(), segs)
            })
            .collect();
        let mut candidates: Vec<&(&str, Vec<&str>)> = split.iter().collect();
        for (i, seg) in segments.iter().enumerate() {
            let literal: Vec<_> = candidates
                .iter()
                .copied()
                .filter(|(_, segs)| segs.get(i) == Some(&seg.as_str()))
                .collect();
            candidates = if literal.is_empty() {
                candidates
                    .into_iter()
                    .filter(|(_, segs)| segs.get(i).is_some_and(|s| s.starts_with('{')))
                    .collect()
            } else {
                literal
            };
        }
        candidates
            .into_iter()
            .filter(|(_, segs)| segs.len() == segments.len())
            .map(|(t, _)| *t)
            .collect()
    }

    #[test]
    fn routing_follows_merges() {
        // `/{x}/a` is folded into `/{x}/{id}` below the literal, and the
        // literal into `/{id}`: its traffic must not end up in a template
        // that a router would not pick for it.
        let paths = [
            ("/0/0", "s1"),
            ("/{x}/0", "s1"),
            ("/0/a/0", "s1"),
            ("/{x}/a", "s1"),
            ("/1/a", "s2"),
        ];
        let mut tree = PathTree::<Seen>::new();
        for (path, shape) in paths {
            let seen = tree.observe(path);
            seen.paths.insert(path.to_owned());
            seen.shape = shape.to_owned();
        }
        let t = tree.finish();
        for template in &t {
            for path in &template.payload.paths {
                assert_eq!(route(&t, path), [template.template.as_str()], "{path}");
            }
        }
    }

    #[test]
    fn absorbs_words_below_literal() {
        let t = build_alike(&[
            "/users/1/posts/5",
            "/users/ada/posts/hello",
            "/users/ada/posts/6",
        ]);
        assert_eq!(names(&t), ["/users/{userId}/posts/{postId}"]);
        assert_eq!(t[0].params[0].schema(), json!({"type": "string"}));
        assert_eq!(t[0].params[1].schema(), json!({"type": "string"}));
        assert_eq!(t[0].params[1].example, "5");
    }

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u32..1000).prop_map(|n| n.to_string()),
            prop::sample::select(vec![
                "users",
                "pokemon",
                "me",
                "search",
                "v1",
                "api",
                "ditto",
                "pikachu",
                "a",
                "b",
                "%7B",
                "{x}",
                "%7Bx%7D",
                "hello%20world",
                "%41",
                "A",
                "cus_8Fq2hjk3Lm",
                "2024-05-01",
                "..",
                "%",
                "?",
                "%2F",
            ])
            .prop_map(String::from),
            "[a-z]{1,2}",
            Just(String::new()),
        ]
    }

    fn path() -> impl Strategy<Value = (String, String)> {
        (
            prop::collection::vec(segment(), 0..5),
            any::<bool>(),
            prop::sample::select(vec!["s1", "s2", "s3"]),
        )
            .prop_map(|(segs, slash, shape)| {
                let mut path = format!("/{}", segs.join("/"));
                if slash {
                    path.push('/');
                }
                (path, shape.to_owned())
            })
    }

    fn build_seen(paths: &[(String, String)]) -> Vec<PathTemplate<Seen>> {
        let mut tree = PathTree::new();
        for (path, shape) in paths {
            let seen: &mut Seen = tree.observe(path);
            seen.paths.insert(path.clone());
            if seen.shape.is_empty() {
                seen.shape = shape.clone();
            }
        }
        tree.finish()
    }

    proptest! {
        #[test]
        fn finish_is_consistent(
            prefix in prop::sample::select(vec!["", "/t"]),
            paths in prop::collection::vec(path(), 0..400),
        ) {
            let paths: Vec<(String, String)> = paths
                .into_iter()
                .map(|(p, s)| (format!("{prefix}{p}"), s))
                .collect();
            let t = build_seen(&paths);
            let names: Vec<&str> = t.iter().map(|t| t.template.as_str()).collect();
            prop_assert!(names.windows(2).all(|w| w[0] < w[1]), "unsorted or duplicate: {:?}", names);
            for template in &t {
                let braces = template.template.matches('{').count();
                prop_assert_eq!(braces, template.params.len());
                prop_assert!(!template.payload.paths.is_empty());
                // Every path landed on the one template a router picks for it.
                for p in &template.payload.paths {
                    prop_assert_eq!(route(&t, p), [template.template.as_str()], "{}", p);
                }
            }
            let distinct: BTreeSet<&str> = paths.iter().map(|(p, _)| p.as_str()).collect();
            let landed: usize = t.iter().map(|t| t.payload.paths.len()).sum();
            prop_assert_eq!(landed, distinct.len());
            prop_assert_eq!(build_seen(&paths), t);
        }
    }
}
