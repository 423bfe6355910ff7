package ec2test

import "testing"

// TestEC2PageMatchesTaggedStruct: ec2Page writes byte for byte what a
// struct with `xml:"volumeSet"` items and an omitempty nextToken writes.
func TestEC2PageMatchesTaggedStruct(t *testing.T) {
	type tagged struct {
		Set       items[xVolume] `xml:"volumeSet"`
		NextToken string         `xml:"nextToken,omitempty"`
	}
	vols := []xVolume{
		{VolumeID: "vol-1&<", Tags: []xmlTag{{Key: "a", Value: "b"}}, Attach: []xVolAttach{{VolumeID: "vol-1&<", Device: "/dev/sdf"}}},
		{VolumeID: "vol-2", Iops: 3000},
	}
	for _, c := range []struct {
		name string
		hits []xVolume
		next string
	}{
		{"nil", nil, ""},
		{"empty with token", vols[:0], "tok"},
		{"last page", vols, ""},
		{"more pages", vols, pageToken(2) + "&"},
	} {
		want := string(innerXML(tagged{items[xVolume]{Item: c.hits}, c.next}))
		got := string(innerXML(ec2Page[xVolume]{set: "volumeSet", items: c.hits, next: c.next}))
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, want)
		}
	}
}
