//! The top bar: the name, the examples menu, the theme toggle and the share link
//! (or, in `?embed` mode, a link that opens the full page).

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::CopyButton;
use crate::examples::{EXAMPLES, HOST_EXAMPLES, SYNTHESIZED_HOST_EXAMPLES};
use crate::hooks::flush_fragment;
use crate::state::{Action, Theme};

#[derive(Properties, PartialEq)]
pub struct HeaderProps {
    pub theme: Theme,
    pub embed: bool,
    /// The page's URL with the state in its fragment.
    pub share_url: AttrValue,
    /// The same without `?embed`, for the "Open in full" link.
    pub full_page_url: AttrValue,
    pub on_action: Callback<Action>,
}

/// The action for a menu value: `domain:N`, `host:N` or `synthesized:N`.
fn example_action(value: &str) -> Option<Action> {
    let (kind, index) = value.split_once(':')?;
    let index: usize = index.parse().ok()?;
    match kind {
        "domain" => EXAMPLES
            .get(index)
            .map(|e| Action::SetDomainXml(e.domain_xml.to_string())),
        "host" => HOST_EXAMPLES
            .get(index)
            .map(|e| Action::SetHostDump(e.dump.to_string())),
        "synthesized" => SYNTHESIZED_HOST_EXAMPLES
            .get(index)
            .and_then(|e| e.dump())
            .map(Action::SetHostDump),
        _ => None,
    }
}

#[function_component]
pub fn Header(props: &HeaderProps) -> Html {
    let on_example = {
        let on_action = props.on_action.clone();
        Callback::from(move |event: Event| {
            let select = event.target_unchecked_into::<HtmlSelectElement>();
            if let Some(action) = example_action(&select.value()) {
                on_action.emit(action);
            }
            // Back to the menu's title, so the same example can be chosen again.
            select.set_value("");
        })
    };
    let on_theme = props.on_action.reform(|_: MouseEvent| Action::CycleTheme);
    html! {
        <header class="topbar">
            <h1>{ "guestcpu" }</h1>
            <p class="tagline">{ "Which CPU does the guest get, and does the domain start?" }</p>
            <nav class="actions" aria-label="Page">
                if props.embed {
                    <a class="button" href={props.full_page_url.clone()} target="_blank" rel="noopener"
                        data-testid="open-full" onclick={|_: MouseEvent| flush_fragment()}>{ "Open in full" }</a>
                } else {
                    <select aria-label="Load an example domain" data-testid="examples"
                        onchange={on_example}>
                        <option value="" selected=true>{ "Examples…" }</option>
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
                    <CopyButton text={props.share_url.clone()} what="share link" label="Copy link"
                        on_copy={Callback::from(|()| flush_fragment())} />
                }
                <button type="button" data-testid="theme" onclick={on_theme}
                    aria-label={format!("Theme: {}; change", props.theme.attribute())}>
                    { format!("Theme: {}", props.theme.attribute()) }
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
            Some(Action::SetDomainXml(EXAMPLES[0].domain_xml.to_string()))
        );
        assert_eq!(
            example_action("host:1"),
            Some(Action::SetHostDump(HOST_EXAMPLES[1].dump.to_string()))
        );
        let Some(Action::SetHostDump(dump)) = example_action("synthesized:0") else {
            panic!("a synthesized example sets the host dump");
        };
        assert!(dump.starts_with("<cpudata"), "{dump}");
        assert_eq!(example_action(""), None);
        assert_eq!(example_action("host:99"), None);
    }
}
