//! `matter-ble` command line (placeholder until the CLI lands).
fn main() {
    println!("matter-ble");
}
