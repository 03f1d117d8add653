//! The host in brief: vendor, signature, host-model and x86-64 level.

use yew::prelude::*;

use crate::engine::HostBrief as HostFacts;

/// A fact the input did not give is shown as a dash.
fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "–".to_string(), |value| value.to_string())
}

/// The panel of `host`'s facts.
pub fn host_brief(host: &HostFacts) -> Html {
    let signature = format!(
        "{} / {} / {}",
        or_dash(host.family),
        or_dash(host.model),
        or_dash(host.stepping)
    );
    html! {
        <section class="panel" aria-labelledby="host-brief-heading" data-testid="host-brief">
            <h2 id="host-brief-heading">{ "Host" }</h2>
            <dl class="facts">
                <dt>{ "Read from" }</dt><dd>{ host.format.clone() }</dd>
                <dt>{ "Vendor" }</dt><dd>{ or_dash(host.vendor.as_deref()) }</dd>
                <dt>{ "Family / model / stepping" }</dt><dd>{ signature }</dd>
                <dt>{ "Host CPU model" }</dt><dd>{ or_dash(host.host_cpu_model.as_deref()) }</dd>
                <dt>{ "host-model" }</dt><dd>{ or_dash(host.host_model.as_deref()) }</dd>
                <dt>{ "x86-64 level" }</dt><dd>{ or_dash(host.x86_64_level.as_deref()) }</dd>
            </dl>
        </section>
    }
}
