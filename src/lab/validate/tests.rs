use super::{closest, edit_distance};

#[test]
fn edit_distance_and_suggestions() {
    assert_eq!(edit_distance("lab-vpcc", "lab-vpc"), 1);
    assert_eq!(
        closest("lab-vpcc", ["lab-vpc", "public-a"].into_iter()),
        Some("lab-vpc")
    );
    assert_eq!(closest("zzzzzz", ["lab-vpc"].into_iter()), None);
}
