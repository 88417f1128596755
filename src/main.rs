fn main() {
    println!("nabla: the HTTP service comes with the next issue");
}
