// Command crosstest is a stand-in for respond in the cross-compile test:
// hostBinary builds it for another architecture as it builds respond,
// without the minutes that building all of respond for it would take.
package main

func main() {}
