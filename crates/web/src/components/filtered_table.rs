//! The features QEMU filters out silently: name, CPUID location, why, and the
//! warning line QEMU prints.

use yew::prelude::*;

use crate::engine::FilteredReport;

#[derive(Properties, PartialEq)]
pub struct FilteredTableProps {
    pub features: Vec<FilteredReport>,
}

#[function_component]
pub fn FilteredTable(props: &FilteredTableProps) -> Html {
    html! {
        <section class="panel" aria-labelledby="filtered-heading" data-testid="filtered-list">
            <h2 id="filtered-heading">{ format!("Filtered features ({})", props.features.len()) }</h2>
            if props.features.is_empty() {
                <p class="hint">{ "QEMU drops no feature." }</p>
            } else {
                <div class="table-scroll">
                    <table>
                        <thead><tr>
                            <th scope="col">{ "Feature" }</th>
                            <th scope="col">{ "CPUID" }</th>
                            <th scope="col">{ "Why" }</th>
                            <th scope="col">{ "QEMU's warning" }</th>
                        </tr></thead>
                        <tbody>
                            { for props.features.iter().map(|feature| html! {
                                <tr>
                                    <td><code>{ feature.name.clone() }</code></td>
                                    <td><code>{ feature.cpuid.clone() }</code></td>
                                    <td>{ feature.reason.clone() }</td>
                                    <td><code>{ feature.qemu_warning.clone() }</code></td>
                                </tr>
                            }) }
                        </tbody>
                    </table>
                </div>
            }
        </section>
    }
}
