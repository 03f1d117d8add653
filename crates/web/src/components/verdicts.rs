//! The verdict banner: one line per libvirt `check` mode, the domain's own marked,
//! and the migration verdict when a second host is given.

use yew::prelude::*;

use crate::engine::{Migration, Verdict};

#[derive(Properties, PartialEq)]
pub struct VerdictsProps {
    pub none: Verdict,
    pub partial: Verdict,
    pub full: Verdict,
    /// How the QEMU version and accelerator were chosen, for the caption.
    pub settings: AttrValue,
    pub migration: Option<Migration>,
}

fn verdict_line(mode: &'static str, verdict: &Verdict) -> Html {
    let (class, outcome) = match (verdict.starts, verdict.abi_stable) {
        (true, true) => ("verdict ok", "starts, ABI stable"),
        (true, false) => ("verdict warn", "starts, ABI may change"),
        (false, _) => ("verdict fail", "does not start"),
    };
    html! {
        <li class={classes!(class, verdict.own.then_some("own"))}
            data-testid={format!("verdict-{mode}")}>
            <span class="mode">{ format!("check='{mode}'") }</span>
            <span class="outcome">{ outcome }</span>
            if verdict.own { <span class="badge">{ "this domain" }</span> }
            if !verdict.message.is_empty() {
                <span class="message">{ verdict.message.clone() }</span>
            }
        </li>
    }
}

fn migration_line(migration: &Migration) -> Html {
    let (class, outcome) = if migration.starts {
        ("verdict ok", "migrates")
    } else {
        ("verdict fail", "does not migrate")
    };
    html! {
        <li class={class} data-testid="verdict-migration">
            <span class="mode">{ "migration" }</span>
            <span class="outcome">{ outcome }</span>
            if !migration.message.is_empty() {
                <span class="message">{ migration.message.clone() }</span>
            }
        </li>
    }
}

#[function_component]
pub fn Verdicts(props: &VerdictsProps) -> Html {
    html! {
        <section class="panel" aria-labelledby="verdict-heading">
            <h2 id="verdict-heading">{ "Does it start?" }</h2>
            <ul class="verdicts">
                { verdict_line("none", &props.none) }
                { verdict_line("partial", &props.partial) }
                { verdict_line("full", &props.full) }
                if let Some(migration) = &props.migration { { migration_line(migration) } }
            </ul>
            <p class="hint" data-testid="settings">{ props.settings.clone() }</p>
        </section>
    }
}
