//! The top bar: the name, the examples menu, the theme toggle and the share link
//! (or, in `?embed` mode, a link that opens the full page).

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::copy_button::{copy_button, copy_to_clipboard};
use crate::examples::{
    ExamplePair, EXAMPLES, EXAMPLE_PAIRS, HOST_EXAMPLES, SYNTHESIZED_HOST_EXAMPLES,
};
use crate::hooks::{page_url, write_fragment_now};
use crate::state::{Action, Theme};

/// The action that loads an example pair.
pub fn example_pair_action(pair: &ExamplePair) -> Option<Action> {
    let (domain_xml, host_dump) = pair.texts()?;
    Some(Action::LoadExample {
        domain_xml: domain_xml.into(),
        host_dump: host_dump.into(),
    })
}

/// The action for a menu value: `pair:N`, `domain:N`, `host:N` or `synthesized:N`.
fn example_action(value: &str) -> Option<Action> {
    let (kind, index) = value.split_once(':')?;
    let index: usize = index.parse().ok()?;
    match kind {
        "pair" => EXAMPLE_PAIRS.get(index).and_then(example_pair_action),
        "domain" => EXAMPLES
            .get(index)
            .map(|e| Action::SetDomainXml(e.domain_xml.into())),
        "host" => HOST_EXAMPLES
            .get(index)
            .map(|e| Action::SetHostDump(e.dump.into())),
        "synthesized" => SYNTHESIZED_HOST_EXAMPLES
            .get(index)
            .and_then(|e| e.dump())
            .map(|dump| Action::SetHostDump(dump.into())),
        _ => None,
    }
}

/// "Copy link": writes the current state into the address bar first (the state
/// is encoded only then), and copies the address it then holds; `copied` says
/// whether it has been clicked.
fn share_link_button(copied: &UseStateHandle<bool>) -> Html {
    let onclick = {
        let copied = copied.clone();
        Callback::from(move |_: MouseEvent| {
            let copied = copied.clone();
            wasm_bindgen_futures::spawn_local(async move {
                copy_to_clipboard(&page_url(&write_fragment_now().await, true));
                copied.set(true);
            });
        })
    };
    copy_button(
        "Copy link",
        "Copy share link".into(),
        Some("share-link"),
        **copied,
        onclick,
    )
}

/// The top bar for `theme`; in `embed` mode, a link to the full page with
/// `written_fragment`, the fragment last written to the address bar, else the
/// share link's button, `link_copied` once it has been clicked.
pub fn header(
    theme: Theme,
    embed: bool,
    written_fragment: &str,
    link_copied: &UseStateHandle<bool>,
    on_action: &Callback<Action>,
) -> Html {
    let on_example = {
        let on_action = on_action.clone();
        Callback::from(move |event: Event| {
            let select = event.target_unchecked_into::<HtmlSelectElement>();
            if let Some(action) = example_action(&select.value()) {
                on_action.emit(action);
            }
            // Back to the menu's title, so the same example can be chosen again.
            select.set_value("");
        })
    };
    let on_theme = on_action.reform(|_: MouseEvent| Action::CycleTheme);
    html! {
        <header class="topbar">
            <h1>{ "guestcpu" }</h1>
            <p class="tagline">{ "Which CPU does the guest get, and does the domain start?" }</p>
            <nav class="actions" aria-label="Page">
                if embed {
                    <a class="button" href={page_url(written_fragment, false)} target="_blank"
                        rel="noopener" data-testid="open-full">{ "Open in full" }</a>
                } else {
                    <select aria-label="Load an example domain" data-testid="examples"
                        onchange={on_example}>
                        <option value="" selected=true>{ "Examples…" }</option>
                        <optgroup label="Domain and host">
                            { for EXAMPLE_PAIRS.iter().enumerate().map(|(index, pair)| html! {
                                <option value={format!("pair:{index}")}>{ pair.title }</option>
                            }) }
                        </optgroup>
                        <optgroup label="Domains">
                            { for EXAMPLES.iter().enumerate().map(|(index, example)| html! {
                                <option value={format!("domain:{index}")}>{ example.title }</option>
                            }) }
                        </optgroup>
                        <optgroup label="Hosts">
                            { for HOST_EXAMPLES.iter().enumerate().map(|(index, example)| html! {
                                <option value={format!("host:{index}")}>{ example.title }</option>
                            }) }
                        </optgroup>
                        <optgroup label="Hosts synthesized from CPU models">
                            { for SYNTHESIZED_HOST_EXAMPLES.iter().enumerate().map(|(index, example)| html! {
                                <option value={format!("synthesized:{index}")}>{ example.title }</option>
                            }) }
                        </optgroup>
                    </select>
                    { share_link_button(link_copied) }
                }
                <button type="button" data-testid="theme" onclick={on_theme}
                    aria-label={format!("Theme: {}; change", theme.attribute())}>
                    { format!("Theme: {}", theme.attribute()) }
                </button>
            </nav>
        </header>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_values_name_a_domain_or_a_host_example() {
        assert_eq!(
            example_action("domain:0"),
            Some(Action::SetDomainXml(EXAMPLES[0].domain_xml.into()))
        );
        assert_eq!(
            example_action("host:1"),
            Some(Action::SetHostDump(HOST_EXAMPLES[1].dump.into()))
        );
        let Some(Action::LoadExample { domain_xml, .. }) = example_action("pair:0") else {
            panic!("a pair sets domain and host");
        };
        assert_eq!(&*domain_xml, EXAMPLES[EXAMPLE_PAIRS[0].domain].domain_xml);
        let Some(Action::SetHostDump(dump)) = example_action("synthesized:0") else {
            panic!("a synthesized example sets the host dump");
        };
        assert!(dump.starts_with("<cpudata"), "{dump}");
        assert_eq!(example_action(""), None);
        assert_eq!(example_action("host:99"), None);
    }
}
