//! Greets the world, using `hello` from the same registry.

/// The greeting the demo's consumer prints.
pub fn greet_world() -> String {
    hello::hello("world")
}

#[cfg(test)]
mod tests {
    #[test]
    fn greets_the_world() {
        assert_eq!(super::greet_world(), "Hello, world!");
    }
}
