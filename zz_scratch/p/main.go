package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
	yaml3 "go.yaml.in/yaml/v3"
	yaml4 "go.yaml.in/yaml/v4"
)

func main() {
	data, _ := os.ReadFile(os.Args[1])
	var n yaml3.Node
	fmt.Printf("v3: %#v\n", yaml3.Unmarshal(data, &n))
	var n4 yaml4.Node
	err := yaml4.Unmarshal(data, &n4)
	fmt.Printf("v4: %v %T\n", err, err)
	o, _ := cli.NewProjectOptions([]string{os.Args[1]}, cli.WithOsEnv, cli.WithDotEnv)
	p, err := o.LoadProject(context.Background())
	if err != nil { fmt.Println("ERR", err); return }
	b, _ := json.MarshalIndent(p.Services, "", " ")
	fmt.Println(string(b))
}
