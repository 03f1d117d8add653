//! The page's URL: `?embed` for the compact layout, and the state in the fragment.
//!
//! Writing the address bar (`history.replaceState`) costs Chromium milliseconds
//! per call, more than a whole recompute, so it is kept off the keystroke path:
//! a state change only schedules the write, which happens once the state has
//! not changed for [`FRAGMENT_DELAY_MS`], and at once when the page is hidden
//! or a link is copied or opened ([`flush_fragment`]).

use std::cell::RefCell;

use gloo_timers::callback::Timeout;
use yew::prelude::*;

use crate::share;
use crate::state::AppState;

/// The query parameter that asks for the compact layout.
const EMBED_PARAMETER: &str = "embed";

fn query_parameters(search: &str) -> impl Iterator<Item = &str> {
    search
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty())
}

fn is_embed_parameter(pair: &str) -> bool {
    pair == EMBED_PARAMETER
        || pair
            .strip_prefix(EMBED_PARAMETER)
            .is_some_and(|rest| rest.starts_with('='))
}

/// Whether the page was opened with `?embed` (alone or among other parameters).
pub fn is_embed_mode() -> bool {
    let search = gloo_utils::window().location().search().unwrap_or_default();
    let embed = query_parameters(&search).any(is_embed_parameter);
    embed
}

/// The state in the URL fragment; the default state when there is none, or when it
/// does not decode (a truncated link must still open the page).
pub fn state_from_location() -> AppState {
    let hash = gloo_utils::window().location().hash().unwrap_or_default();
    share::decode(&hash).unwrap_or_default()
}

/// The fragment (with `#`) for `state`; empty for the untouched default state.
pub fn fragment_for(state: &AppState) -> String {
    if *state == AppState::default() {
        String::new()
    } else {
        format!("#{}", share::encode(state))
    }
}

/// This page's address with `fragment`; `keep_embed: false` drops `?embed`.
pub fn page_url(fragment: &str, keep_embed: bool) -> String {
    let location = gloo_utils::window().location();
    let origin = location.origin().unwrap_or_default();
    let path = location.pathname().unwrap_or_default();
    let search = location.search().unwrap_or_default();
    let kept: Vec<&str> = query_parameters(&search)
        .filter(|pair| keep_embed || !is_embed_parameter(pair))
        .collect();
    let query = if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", kept.join("&"))
    };
    format!("{origin}{path}{query}{fragment}")
}

/// How long the state must stay unchanged before the address bar is written.
const FRAGMENT_DELAY_MS: u32 = 200;

/// The fragment waiting to be written and the timer that will write it.
#[derive(Default)]
struct PendingFragment {
    fragment: Option<String>,
    /// Replacing it cancels the previous timer (never dropped while it runs:
    /// the timer's own callback only takes `fragment`).
    timer: Option<Timeout>,
}

thread_local! {
    /// The page has one address bar, so one pending write.
    static PENDING: RefCell<PendingFragment> = RefCell::default();
}

/// Writes the pending fragment, if any, into the address bar now.
pub fn flush_fragment() {
    let Some(fragment) = PENDING.with(|pending| pending.borrow_mut().fragment.take()) else {
        return;
    };
    let window = gloo_utils::window();
    if window.location().hash().unwrap_or_default() != fragment {
        let url = page_url(&fragment, true);
        if let Ok(history) = window.history() {
            // A failure only leaves the address bar behind; the page works on.
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
        }
    }
}

/// Keeps the URL fragment equal to `fragment` once the state settles, without
/// adding history entries (one per keystroke would make the back button
/// useless); see the module comment for when it is written.
#[hook]
pub fn use_fragment_sync(fragment: AttrValue) {
    use_effect_with((), |_| {
        let listener = gloo_events::EventListener::new(&gloo_utils::window(), "pagehide", |_| {
            flush_fragment()
        });
        move || drop(listener)
    });
    use_effect_with(fragment, |fragment| {
        let fragment = fragment.to_string();
        PENDING.with(|pending| {
            let mut pending = pending.borrow_mut();
            pending.fragment = Some(fragment);
            pending.timer = Some(Timeout::new(FRAGMENT_DELAY_MS, flush_fragment));
        });
    });
}
