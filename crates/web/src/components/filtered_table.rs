//! The features QEMU filters out silently: name, CPUID location, why, and the
//! warning line QEMU prints. In a panel narrower than 760 px (a phone, or the
//! results column beside the inputs) each row becomes a block of labelled lines
//! (the cells' `data-label`, a container query in `web/style.css`), so no column
//! is cut.

use yew::prelude::*;

use crate::engine::FilteredReport;

/// The panel listing `features`, or saying that there are none.
pub fn filtered_table(features: &[FilteredReport]) -> Html {
    html! {
        <section class="panel stacking" aria-labelledby="filtered-heading" data-testid="filtered-list">
            <h2 id="filtered-heading">{ format!("Filtered features ({})", features.len()) }</h2>
            if features.is_empty() {
                <p class="hint">{ "QEMU drops no feature." }</p>
            } else {
                <div class="table-scroll">
                    <table class="stack-narrow">
                        <thead><tr>
                            <th scope="col">{ "Feature" }</th>
                            <th scope="col">{ "CPUID" }</th>
                            <th scope="col">{ "Why" }</th>
                            <th scope="col">{ "QEMU's warning" }</th>
                        </tr></thead>
                        <tbody>
                            { for features.iter().map(|feature| html! {
                                <tr>
                                    <td data-label="Feature"><code>{ feature.name.clone() }</code></td>
                                    <td data-label="CPUID" class="nowrap"><code>{ feature.cpuid.clone() }</code></td>
                                    <td data-label="Why">{ feature.reason.clone() }</td>
                                    <td data-label="QEMU's warning" class="warning"><code>{ feature.qemu_warning.clone() }</code></td>
                                </tr>
                            }) }
                        </tbody>
                    </table>
                </div>
            }
        </section>
    }
}
