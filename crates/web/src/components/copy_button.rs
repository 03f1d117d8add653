//! A button that copies a text to the clipboard and says so.

use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct CopyButtonProps {
    pub text: AttrValue,
    /// What is copied, for screen readers: "Copy {what}".
    pub what: AttrValue,
    /// The button's text before it is clicked.
    #[prop_or(AttrValue::Static("Copy"))]
    pub label: AttrValue,
    /// Told on every click, before the text is copied.
    #[prop_or_default]
    pub on_copy: Callback<()>,
}

#[function_component]
pub fn CopyButton(props: &CopyButtonProps) -> Html {
    let copied = use_state(|| false);
    {
        // A new text has not been copied yet.
        let copied = copied.clone();
        use_effect_with(props.text.clone(), move |_| copied.set(false));
    }
    let onclick = {
        let copied = copied.clone();
        let text = props.text.clone();
        let on_copy = props.on_copy.clone();
        Callback::from(move |_: MouseEvent| {
            on_copy.emit(());
            let clipboard = gloo_utils::window().navigator().clipboard();
            // The returned promise only reports permission problems, which the
            // browser already shows; the button still says what it tried.
            let _ = clipboard.write_text(&text);
            copied.set(true);
        })
    };
    html! {
        <button type="button" class="copy" aria-label={format!("Copy {}", props.what)} {onclick}>
            { if *copied { AttrValue::Static("Copied") } else { props.label.clone() } }
        </button>
    }
}
