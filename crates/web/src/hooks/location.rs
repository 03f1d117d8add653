//! The page's URL: `?embed` for the compact layout, and the state in the fragment.
//!
//! The fragment is encoded (JSON, then the browser's DEFLATE, see `share.rs`) only
//! when the address bar is written, never per render. Writing it
//! (`history.replaceState`) costs Chromium milliseconds per call, more than a
//! whole recompute, so it is kept off the keystroke path too: a state change only
//! schedules the write, which happens once the state has not changed for
//! [`FRAGMENT_DELAY_MS`], at once when a link is copied ([`write_fragment_now`])
//! and when the page is hidden (best effort: the encoding is asynchronous).

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use yew::prelude::*;

use crate::share;
use crate::state::{Action, AppState};

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

/// The address bar's fragment, with its `#`.
fn current_fragment() -> String {
    gloo_utils::window().location().hash().unwrap_or_default()
}

/// The fragment (with `#`) for `state`; empty for the untouched default state.
async fn fragment_for(state: &AppState) -> Result<String, share::ShareError> {
    if *state == AppState::default() {
        Ok(String::new())
    } else {
        Ok(format!("#{}", share::encode(state).await?))
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

/// The state waiting to be written and the timer that will write it.
#[derive(Default)]
struct PendingFragment {
    /// Taken by the write that encodes it.
    state: Option<Rc<AppState>>,
    /// The app's state now, written or not: what a copied link must carry even
    /// while an earlier write is still encoding.
    latest: Option<Rc<AppState>>,
    /// Replacing it cancels the previous timer (never dropped while it runs:
    /// the timer's own callback only takes `state`).
    timer: Option<Timeout>,
    /// Told the fragment each time the address bar is written.
    on_written: Callback<String>,
}

thread_local! {
    /// The page has one address bar, so one pending write.
    static PENDING: RefCell<PendingFragment> = RefCell::default();
}

/// Encodes `state` and writes it into the address bar; returns the fragment
/// the address bar then holds (with `#`).
async fn write_fragment(state: &AppState) -> String {
    let Ok(fragment) = fragment_for(state).await else {
        // A browser without compression streams keeps its address bar as is.
        return current_fragment();
    };
    if current_fragment() != fragment {
        let url = page_url(&fragment, true);
        if let Ok(history) = gloo_utils::window().history() {
            // A failure only leaves the address bar behind; the page works on.
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
        }
    }
    let on_written = PENDING.with(|pending| pending.borrow().on_written.clone());
    on_written.emit(fragment.clone());
    fragment
}

/// Writes the pending state, if any (the timer's and `pagehide`'s write).
async fn flush_fragment() {
    if let Some(state) = PENDING.with(|pending| pending.borrow_mut().state.take()) {
        write_fragment(&state).await;
    }
}

/// Writes the app's current state into the address bar now, cancelling the
/// delayed write, and returns the fragment (with `#`), e.g. for a copied link.
pub async fn write_fragment_now() -> String {
    let latest = PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        pending.state = None;
        pending.timer = None;
        pending.latest.clone()
    });
    match latest {
        Some(state) => write_fragment(&state).await,
        None => current_fragment(),
    }
}

/// What the address bar tells the app.
pub struct PageLocation {
    /// Whether the fragment the page opened with has been read.
    pub restored: bool,
    /// The fragment last written (with `#`), for links that carry the state.
    pub written_fragment: AttrValue,
}

/// Keeps the app's state and the URL fragment in step.
///
/// On mount, reads the state in the fragment and replaces the app's state with
/// it; a fragment that does not decode (a truncated link) leaves the default
/// state, so the page still opens. Until it has been read nothing is written,
/// or the app would erase the link it is still reading. Then keeps the fragment
/// equal to the state once it settles, without adding history entries (one per
/// keystroke would make the back button useless); see the module comment for
/// when it is written.
#[hook]
pub fn use_location_sync(state: &UseReducerHandle<AppState>) -> PageLocation {
    let restored = use_state_eq(|| false);
    let written = use_state_eq(|| AttrValue::from(current_fragment()));
    {
        let (restored, written) = (restored.clone(), written.clone());
        let dispatcher = state.dispatcher();
        use_effect_with((), move |_| {
            PENDING.with(|pending| {
                pending.borrow_mut().on_written =
                    Callback::from(move |fragment: String| written.set(fragment.into()));
            });
            let fragment = current_fragment();
            wasm_bindgen_futures::spawn_local(async move {
                if !fragment.is_empty() {
                    if let Ok(state) = share::decode(&fragment).await {
                        dispatcher.dispatch(Action::Replace(state));
                    }
                }
                restored.set(true);
            });
            let listener =
                gloo_events::EventListener::new(&gloo_utils::window(), "pagehide", |_| {
                    wasm_bindgen_futures::spawn_local(flush_fragment())
                });
            move || drop(listener)
        });
    }
    // Cloning the state copies pointers to its texts, not the texts.
    use_effect_with(((**state).clone(), *restored), |(state, enabled)| {
        if *enabled {
            let state = Rc::new(state.clone());
            PENDING.with(|pending| {
                let mut pending = pending.borrow_mut();
                pending.latest = Some(Rc::clone(&state));
                pending.state = Some(state);
                pending.timer = Some(Timeout::new(FRAGMENT_DELAY_MS, || {
                    wasm_bindgen_futures::spawn_local(flush_fragment())
                }));
            });
        }
    });
    PageLocation {
        restored: *restored,
        written_fragment: (*written).clone(),
    }
}
